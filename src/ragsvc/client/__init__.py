"""The typed Python client (`from ragsvc.client import Client`) and the `ragsvc upload` /
`ask` commands; it imports only ragsvc's core and streams."""

from ragsvc.client.http_client import Client, ProblemError

__all__ = ["Client", "ProblemError"]
