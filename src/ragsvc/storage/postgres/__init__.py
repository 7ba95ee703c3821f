"""The PostgreSQL store, its leases and its migrations."""
