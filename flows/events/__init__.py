"""The events API (paginated JSON) -> `raw/event_attendances`.

`assets` (the asset, also a plain Prefect flow), `client` (HTTP, paging, retries), `records`
(one API record -> one row), `load` (spool and land atomically, quarantine), `errors`,
`simulator` (the local events API for dev and tests). Imports nothing on import.
"""

__all__ = ["assets", "client", "errors", "load", "records", "simulator"]
