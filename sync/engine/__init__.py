"""The sync engine: `run.run_sync` (read the mart, apply each code once through the client,
a bounded thread pool under the `everyaction-api` concurrency limit) and `ledger` (the
warehouse table that makes it exactly-once, and the lock). Imports nothing on import."""

__all__ = ["ledger", "run", "slots"]
