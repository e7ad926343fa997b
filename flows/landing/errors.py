"""One exception base for the extraction flows; subclasses carry structured fields and build
their own messages, so callers can both print them and inspect them.

Messages name files, line numbers, columns and counts, never a person's data (no emails, phones,
names): a value is quoted only when it comes from a non-personal column and does not look like
contact data (see `flows.landing`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

__all__ = [
    "ExtractionError",
    "ConfigurationError",
    "SourceError",
    "SourceNotFoundError",
    "SourceFileMissingError",
    "FileFormatError",
    "EmptyFileError",
    "MissingColumnError",
    "DuplicateColumnError",
    "CorruptFileError",
    "QuarantineThresholdError",
    "SchemaMismatchError",
    "UnsupportedWarehouseError",
    "LandingFailedError",
]


class ExtractionError(Exception):
    """Base of every error the extraction flows raise on purpose."""

    # Deterministic: the same files and settings fail the same way again, so an asset's
    # retries are not spent on it (see assetgraph.execution.failures).
    transient = False


class ConfigurationError(ExtractionError):
    def __init__(self, setting: str, value: object, reason: str) -> None:
        self.setting = setting
        self.value = value
        self.reason = reason
        super().__init__(f"{setting}={value!r}: {reason}")


# -- sources -----------------------------------------------------------------------------------


class SourceError(ExtractionError):
    """A problem with where files come from (not with a file's content)."""


class SourceNotFoundError(SourceError):
    def __init__(self, location: str) -> None:
        self.location = location
        super().__init__(f"source {location} does not exist or is not a directory")


class SourceFileMissingError(SourceError):
    """Replacing a partition would drop rows whose source file is gone."""

    def __init__(self, table: str, partition: str, files: Sequence[str]) -> None:
        self.table = table
        self.partition = partition
        self.files = tuple(files)
        super().__init__(
            f"cannot rebuild partition {partition} of {table}: it holds rows from "
            f"{', '.join(self.files)}, which the source no longer has; restore the file(s) "
            f"or delete those rows first (nothing was changed)"
        )


# -- file content ------------------------------------------------------------------------------


class FileFormatError(ExtractionError):
    """A file as a whole cannot be landed. Always names the file."""

    def __init__(self, file: str, message: str) -> None:
        self.file = file
        super().__init__(f"{file}: {message}")


class EmptyFileError(FileFormatError):
    def __init__(self, file: str, detail: str = "is empty (no header row)") -> None:
        self.detail = detail
        super().__init__(file, detail)


class MissingColumnError(FileFormatError):
    """`column` is the first missing required column, `columns` all of them."""

    def __init__(self, file: str, column: str, columns_found: int = 0, columns: Sequence[str] = ()) -> None:
        self.column = column
        self.columns = tuple(columns) or (column,)
        self.columns_found = columns_found
        names = ", ".join(repr(c) for c in self.columns)
        plural = "s" if len(self.columns) > 1 else ""
        super().__init__(
            file,
            f"missing required column{plural} {names} (the header has {columns_found} columns; "
            "is the header row missing or a column renamed?)",
        )


class DuplicateColumnError(FileFormatError):
    def __init__(self, file: str, column: str) -> None:
        self.column = column
        super().__init__(file, f"column {column!r} appears more than once in the header")


class CorruptFileError(FileFormatError):
    def __init__(self, file: str, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        where = f" near line {line}" if line else ""
        super().__init__(file, f"cannot be read{where}: {reason}")


class QuarantineThresholdError(FileFormatError):
    """Too many rows of one file could not be parsed; nothing of the file was landed."""

    def __init__(
        self,
        file: str,
        bad: int,
        total: int,
        limit: float,
        *,
        reasons: Mapping[str, int] | None = None,
        load_id: str = "",
        quarantine_table: str = "raw._quarantine",
    ) -> None:
        self.bad = bad
        self.total = total
        self.limit = limit
        self.reasons = dict(reasons or {})
        self.load_id = load_id
        share = bad / total if total else 1.0
        top = "; ".join(f"{n} x {r}" for r, n in sorted(self.reasons.items(), key=lambda x: -x[1])[:3])
        detail = f" (most common: {top})" if top else ""
        where = f"; see {quarantine_table} where load_id = '{load_id}'" if load_id else ""
        super().__init__(
            file,
            f"{bad} of {total} rows ({share:.2%}) could not be parsed, more than the limit of "
            f"{limit:.2%} (LANDING_MAX_QUARANTINE_FRACTION){detail}; nothing was landed{where}",
        )


# -- warehouse ---------------------------------------------------------------------------------


class SchemaMismatchError(ExtractionError):
    def __init__(self, table: str, missing: Sequence[str], wrong_type: Mapping[str, str]) -> None:
        self.table = table
        self.missing = tuple(missing)
        self.wrong_type = dict(wrong_type)
        parts = []
        if self.missing:
            parts.append("missing columns " + ", ".join(self.missing))
        if self.wrong_type:
            parts.append(
                "unexpected types " + ", ".join(f"{c} ({t})" for c, t in self.wrong_type.items())
            )
        super().__init__(f"existing table {table} does not match the landing spec: {'; '.join(parts)}")


class UnsupportedWarehouseError(ExtractionError):
    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(f"landing into {kind} is not supported: {reason}")


class LandingFailedError(ExtractionError):
    """Several files failed in one run (files that could be landed were landed)."""

    def __init__(self, errors: Sequence[ExtractionError]) -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} files could not be landed:\n{lines}")
