"""Signup-form exports (CSV / CSV.gz files) -> `raw/signups`, through the landing engine.

`assets` (the asset and its table spec, also a plain Prefect flow), `sample_data` (the dev
generator of export files, what the forms tool would drop). Imports nothing on import.
"""

__all__ = ["assets", "sample_data"]
