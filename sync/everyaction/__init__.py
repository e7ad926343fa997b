"""Talking to EveryAction: `client` (apply one origin source code to one VAN ID, classify the
answer, retry 429/5xx, read the key from env or a Prefect Secret) over `transport` (a small
HTTP/1.1 keep-alive transport with timeouts, or parsons' `VAN`). Imports nothing on import."""

__all__ = ["client", "transport"]
