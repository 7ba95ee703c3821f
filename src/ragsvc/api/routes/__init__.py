"""HTTP routes only: parse, authorise, call the use cases, shape the response."""
