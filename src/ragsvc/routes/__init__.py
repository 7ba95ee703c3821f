"""HTTP routes only: parse, authorise, call the pipeline, shape the response."""
