"""`ragsvc worker`: takes queued ingests."""
