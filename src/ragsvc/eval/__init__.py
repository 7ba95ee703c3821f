"""`ragsvc eval`: answer quality on question sets."""
