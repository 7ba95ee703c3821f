"""Where sessions live: the store protocols, their records, leases, caches."""
