"""Shared vocabulary: settings, errors, API models, the clock, quick threads."""
