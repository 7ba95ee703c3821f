"""Use case: question -> sources -> prompt -> generator -> cited events."""
