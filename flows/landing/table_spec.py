"""What a landed `raw.*` table looks like: its source columns, their types, which ones are
personal data, and the load metadata columns every landed row carries.

A `TableSpec` is the contract between a file export and the dbt models reading the table; the
landing code (`flows.landing`) derives the DDL, the header check and the row validation from it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["ColumnType", "Column", "TableSpec", "METADATA_COLUMNS"]

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class ColumnType(str, enum.Enum):
    """Types a landed column can have. Text columns are landed as found (blank becomes NULL);
    the others are validated row by row and rows that do not convert are quarantined."""

    TEXT = "text"
    BIGINT = "bigint"
    TIMESTAMPTZ = "timestamptz"


# (name, SQL type) of the columns the loader adds to every row, in table order.
METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_loaded_at", "timestamptz"),
    ("_source_file", "text"),
    ("_source_line", "integer"),
    ("_load_id", "text"),
    ("_partition", "date"),
)


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = ColumnType.TEXT
    required: bool = True  # a file without this column is rejected; else the column lands NULL
    pii: bool = False  # values never appear in logs, errors or the quarantine

    def __post_init__(self) -> None:
        if not _IDENT.match(self.name):
            raise ValueError(f"column name {self.name!r} must be lower-case letters, digits, '_'")


@dataclass(frozen=True)
class TableSpec:
    """A landed table: `schema.name`, its source columns, and the timestamp column whose date
    (in `timezone`) is the row's `_partition`. Timestamps without an offset are read in
    `timezone` too."""

    schema: str
    name: str
    columns: tuple[Column, ...]
    partition_column: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        for ident in (self.schema, self.name):
            if not _IDENT.match(ident):
                raise ValueError(f"identifier {ident!r} must be lower-case letters, digits, '_'")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.qualified_name}: duplicate column names")
        clash = set(names) & {n for n, _ in METADATA_COLUMNS}
        if clash:
            raise ValueError(f"{self.qualified_name}: {sorted(clash)} are reserved for load metadata")
        part = self.column(self.partition_column)
        if part.type is not ColumnType.TIMESTAMPTZ or not part.required:
            raise ValueError(f"partition column {part.name!r} must be a required timestamptz column")

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.qualified_name} has no column {name!r}")

    def expected_types(self) -> dict[str, str]:
        """Column name -> SQL type, source columns first, then the metadata columns."""
        types = {c.name: c.type.value for c in self.columns}
        types.update(METADATA_COLUMNS)
        return types

    def create_table_sql(self) -> str:
        """DDL for the table. `_loaded_at` defaults to now() (the load's transaction time), so
        the loader need not send it with every row."""
        cols = ",\n    ".join(
            f"{name} {sql_type}" + (" default now()" if name == "_loaded_at" else "")
            for name, sql_type in self.expected_types().items()
        )
        return f"create table if not exists {self.qualified_name} (\n    {cols}\n)"

    @property
    def load_index(self) -> str:
        """Name (schema-qualified) of the BRIN index on the load metadata; see `load_index_sql`."""
        return f"{self.schema}.{self._load_index_name}"

    @property
    def _load_index_name(self) -> str:
        return f"{self.name}__load_brin"

    def load_index_sql(self) -> str:
        """A BRIN index on (`_load_id`, `_loaded_at`): the rows of one load are appended
        together, so a range of pages holds one or two loads and a night's checks that read
        only tonight's loads (`where _load_id in (...)`) skip every page of the older ones.
        A few kB for 1M rows, and next to nothing per insert: new pages stay unsummarized (and
        are always read) until autovacuum or the next load summarizes them
        (`ledger.summarize_earlier_loads`). Postgres only; on Redshift its zone maps play this part."""
        return (f"create index if not exists {self._load_index_name} on {self.qualified_name} "
                "using brin (_load_id, _loaded_at) with (autosummarize = on)")
