"""One exception base for the Civis migration; subclasses name the Civis object they concern."""

from __future__ import annotations

from assetgraph.errors import AssetGraphError

__all__ = ["CivisMigrationError", "CivisObjectError"]


class CivisMigrationError(AssetGraphError):
    """Base of every error the Civis migration raises on purpose."""


class CivisObjectError(CivisMigrationError):
    """Something is wrong with one Civis object: the message names it (`sql script 12 "name"`)."""

    def __init__(self, kind: str, object_id: object, name: str, reason: str) -> None:
        self.kind = kind
        self.object_id = object_id
        self.name = name
        self.reason = reason
        label = f'{kind} {object_id}' + (f' "{name}"' if name else "")
        super().__init__(f"{label}: {reason}")


# ---- import and verify (appended) ----------------------------------------------------------
__all__ += [
    "CivisExportFileError",
    "CivisSqlParseError",
    "CivisTableConflictError",
    "CivisCycleError",
    "CivisVerifyError",
]


class CivisExportFileError(CivisObjectError):
    """An export file cannot be read as the Civis API body it should hold."""

    def __init__(self, kind: str, path: str, reason: str, object_id: object = None, name: str = "") -> None:
        self.path = path
        super().__init__(kind, object_id if object_id is not None else path, name,
                         f"{reason} ({path})" if object_id is not None else reason)


class CivisSqlParseError(CivisObjectError):
    """sqlglot (dialect redshift) cannot parse a SQL script."""


class CivisTableConflictError(CivisMigrationError):
    """Two scripts write the same table: which one becomes its model is a human decision."""

    def __init__(self, table: str, writers: list[str]) -> None:
        self.table = table
        self.writers = tuple(writers)
        super().__init__(f"table {table} is written by {' and by '.join(writers)}: "
                         "keep one writer in the export (or archive the other) and import again")


class CivisCycleError(CivisMigrationError):
    """Scripts read each other's tables in a circle: no build order exists."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__("cycle between scripts: " + " -> ".join(cycle))


class CivisVerifyError(CivisMigrationError):
    """verify cannot run (no migration report, dbt failed to build the shadow relations, ...)."""


# the Civis API side: export and archive
__all__ += ["CivisApiError", "CivisConfigError", "CivisExportDirError", "CivisArchiveError"]


class CivisApiError(CivisMigrationError):
    """The Civis API could not be used: unreachable, not the API, key refused, or a call failed.

    `endpoint` is the API's base URL, `status` the HTTP status when there was one."""

    def __init__(self, endpoint: str, reason: str, status: int | None = None) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.status = status
        super().__init__(f"Civis API {endpoint}: {reason}")


class CivisConfigError(CivisApiError):
    """The API cannot be used as configured: CIVIS_API_KEY unset or refused, CIVIS_API_ENDPOINT
    not a URL. Input, not a failure of the API: the CLI exits 2."""


class CivisExportDirError(CivisMigrationError):
    """The export directory cannot be written as asked (it holds other files, or is not writable)."""

    def __init__(self, directory: object, reason: str) -> None:
        self.directory = directory
        self.reason = reason
        super().__init__(f"{directory}: {reason}")


class CivisArchiveError(CivisMigrationError):
    """`civis archive` cannot decide: its inputs (the migration report, the catalog) are missing
    or malformed. `where` names the file or table."""

    def __init__(self, where: object, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")
