"""Events that outlive a connection: typed events, their codec, event logs."""
