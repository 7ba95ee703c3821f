"""One process's object graph built from Settings: backends, app state, metrics."""
