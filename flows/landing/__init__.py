"""The landing engine: export files (a local folder or an S3 prefix) into a typed raw table,
exactly once per file, with bad rows quarantined. A new file-based source is a `TableSpec` and
a call to `engine.land_new_files` (see `flows/signups/assets.py`).

Modules (import them directly; this package imports nothing so `assetgraph list` stays fast):
`engine` (land_new_files, replace_partition), `file_sources` / `s3_source` / `sources`
(where files come from), `copy_stream` / `copy_feed` (parse, validate, COPY), `ledger` (load
ledger and quarantine tables), `table_spec`, `timestamps`, `errors`.
"""

__all__ = [
    "copy_feed",
    "copy_stream",
    "engine",
    "errors",
    "file_sources",
    "ledger",
    "s3_source",
    "sources",
    "table_spec",
    "timestamps",
]
