"""The embedded store: sessions in folders, written atomically."""
