"""The bookkeeping tables of landing, next to the landed tables in the same schema:

- `<schema>._loaded_files`: one row per load of a file (whole, or one partition of it): name,
  sha256, size, row counts, the file's date range, load id, run id. A whole-file row with a
  file's sha256 means "this content is landed"; the date ranges tell a partition rebuild which
  files to read.
- `<schema>._quarantine`: one row per row that could not be landed: table, file, line, reason,
  load id. Never the row's content (it holds personal data). Replaced per file on every read.

Both are plain tables (no constraints, no upserts) so the SQL also runs on Redshift.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from flows.landing.copy_stream import QuarantinedRow
from flows.landing.errors import SchemaMismatchError
from flows.landing.table_spec import TableSpec

__all__ = [
    "LedgerState",
    "ledger_table",
    "quarantine_table",
    "ensure_tables",
    "prepare_session",
    "read_ledger",
    "lock",
    "landed_as",
    "write_quarantine",
    "quarantine_ddl",
    "summarize_earlier_loads",
    "analyze_load_columns",
    "record_load",
]

_SQL_TYPES = {  # information_schema.columns.data_type of each SQL type we create
    "text": "text",
    "bigint": "bigint",
    "integer": "integer",
    "date": "date",
    "timestamptz": "timestamp with time zone",
}


def ledger_table(spec: TableSpec) -> str:
    return f"{spec.schema}._loaded_files"


def quarantine_table(spec: TableSpec) -> str:
    return f"{spec.schema}._quarantine"


def ensure_tables(conn: Any, spec: TableSpec) -> bool:
    """Create the schema, the table, the ledger and the quarantine table if missing (and
    commit), then check that the table has every column with the expected type. Returns
    whether `_loaded_at` defaults to now(), in which case the loader need not send it."""
    _create_racing(conn, lambda: _create(conn, spec))
    with conn.cursor() as cur:
        cur.execute(
            "select column_name, data_type, coalesce(column_default, '') from information_schema.columns "
            "where table_schema = %s and table_name = %s",
            (spec.schema, spec.name),
        )
        rows = cur.fetchall()
    found = {name: data_type for name, data_type, _ in rows}
    expected = {name: _SQL_TYPES[t] for name, t in spec.expected_types().items()}
    missing = [n for n in expected if n not in found]
    wrong = {n: found[n] for n in expected if n in found and found[n] != expected[n]}
    if missing or wrong:
        raise SchemaMismatchError(spec.qualified_name, missing, wrong)
    _create_racing(conn, lambda: _create_load_index(conn, spec))  # also on a table from before it
    return any(name == "_loaded_at" and "now()" in default for name, _, default in rows)


def _create(conn: Any, spec: TableSpec) -> None:
    with conn.cursor() as cur:
        cur.execute(f"create schema if not exists {spec.schema}")
        cur.execute(spec.create_table_sql())
        cur.execute(
            f"""create table if not exists {ledger_table(spec)} (
                table_name text not null, source_file text not null, sha256 text not null,
                size_bytes bigint, partition_key date, rows_read bigint not null,
                rows_landed bigint not null, rows_quarantined bigint not null,
                min_partition date, max_partition date, load_id text not null, run_id text,
                loaded_at timestamptz not null default now())"""
        )
        cur.execute(quarantine_ddl(spec.schema))
    conn.commit()


def summarize_earlier_loads(conn: Any, spec: TableSpec) -> int:
    """Before a load: summarize, in the load index, the pages that earlier loads appended and
    autovacuum has not summarized yet (the index has `autosummarize` on; at a night's cadence
    it has done this already). Postgres always reads the pages not summarized, so tonight's
    own pages need no summary for a check scoped to tonight; the earlier ones do, or every
    page is read (120-240 ms per check query at 1M rows; 22 ms with the summary). Not after
    the load: summarizing 1M rows takes 0.6 s, which a first load would pay for nothing.
    Returns the number of page ranges summarized."""
    with conn.cursor() as cur:
        cur.execute("select brin_summarize_new_values(%s::regclass)", (spec.load_index,))
        (ranges,) = cur.fetchone()
    conn.commit()
    return int(ranges)


def analyze_load_columns(conn: Any, spec: TableSpec) -> None:
    """After loads committed: refresh the statistics of the two load columns, so Postgres plans
    a check scoped to tonight's loads for the rows they hold. With statistics from before the
    load it expects ~1 row for the new load id and plans nested loops: measured at 1M rows
    + 1 %, GX's uniqueness check took 11.4 s instead of 0.4 s. A full ANALYZE costs 0.36 s;
    these two columns at statistics target 10 (set with the index), 15 ms."""
    with conn.cursor() as cur:
        cur.execute(f"analyze {spec.qualified_name} (_load_id, _loaded_at)")
    conn.commit()


def _create_racing(conn: Any, create: Callable[[], None]) -> None:
    """Run `create` (which commits); once more if a concurrent run created the same object
    at the same moment ("if not exists" does not guard against that race)."""
    import psycopg2

    try:
        create()
    except (psycopg2.errors.UniqueViolation, psycopg2.errors.DuplicateObject, psycopg2.errors.DuplicateTable):
        conn.rollback()
        create()


def _create_load_index(conn: Any, spec: TableSpec) -> None:
    with conn.cursor() as cur:
        # one run at a time: two concurrent `create index if not exists` of the same name
        # followed by the ALTER below deadlock (each waits for the other's lock on the table)
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"assetgraph load index {spec.qualified_name}",))
        cur.execute("select to_regclass(%s) is null", (spec.load_index,))
        if cur.fetchone()[0]:
            cur.execute(spec.load_index_sql())
            # small samples for the columns `analyze_load_columns` analyzes after every load
            cur.execute(f"alter table {spec.qualified_name} alter column _load_id set statistics 10, "
                        "alter column _loaded_at set statistics 10")
    conn.commit()


def quarantine_ddl(schema: str) -> str:
    """The one shape of `<schema>._quarantine`, shared by every extraction (files and APIs)."""
    return f"""create table if not exists {schema}._quarantine (
                table_name text not null, source_file text not null, source_line integer,
                reason text not null, load_id text not null, sha256 text,
                quarantined_at timestamptz not null default now())"""


def prepare_session(conn: Any, spec: TableSpec) -> None:
    """Session settings under which Postgres reads timestamps exactly as `TimestampParser`
    validated them, and COPY data as UTF-8."""
    conn.set_client_encoding("UTF8")
    with conn.cursor() as cur:
        cur.execute("set datestyle to 'ISO, MDY'")
        cur.execute("set time zone %s", (spec.timezone,))
    conn.commit()


@dataclass
class LedgerState:
    full: dict[str, tuple[str, str | None, str | None]]  # sha256 -> (file, min, max partition)
    names: set[str]  # every file name with a ledger row (whole file or one partition)
    sizes: set[int]  # sizes of the files landed whole


def read_ledger(conn: Any, spec: TableSpec) -> LedgerState:
    with conn.cursor() as cur:
        cur.execute(
            f"select sha256, source_file, min_partition::text, max_partition::text, partition_key is null, "
            f"size_bytes from {ledger_table(spec)} where table_name = %s order by loaded_at",
            (spec.qualified_name,),
        )
        rows = cur.fetchall()
    return LedgerState(
        full={sha: (name, lo, hi) for sha, name, lo, hi, whole, _ in rows if whole},
        names={name for _, name, *_ in rows},
        sizes={size for *_, whole, size in rows if whole and size is not None},
    )


def lock(cur: Any, spec: TableSpec) -> None:
    """Serialise loads of this table (nightly, backfills, a second scheduler) until the end of
    the transaction, so two loads never interleave their deletes and inserts. Readers of the
    table and of the ledger are not blocked."""
    cur.execute(f"lock table {ledger_table(spec)} in share row exclusive mode")


def landed_as(cur: Any, spec: TableSpec, sha: str) -> str | None:
    """The file name under which this content was landed whole, if it was."""
    cur.execute(
        f"select source_file from {ledger_table(spec)} "
        "where table_name = %s and sha256 = %s and partition_key is null",
        (spec.qualified_name, sha),
    )
    found = cur.fetchone()
    return found[0] if found else None


def write_quarantine(
    cur: Any, spec: TableSpec, file: str, sha: str, load_id: str, rows: Sequence[QuarantinedRow]
) -> None:
    """Replace the quarantined rows recorded for `file` by these."""
    cur.execute(
        f"delete from {quarantine_table(spec)} where table_name = %s and source_file = %s",
        (spec.qualified_name, file),
    )
    if not rows:
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerows((spec.qualified_name, file, q.line, q.reason, load_id, sha) for q in rows)
    buf.seek(0)
    cur.copy_expert(
        f"copy {quarantine_table(spec)} (table_name, source_file, source_line, reason, load_id, sha256) "
        "from stdin with (format csv)",
        buf,
    )


def record_load(
    cur: Any,
    spec: TableSpec,
    *,
    file: str,
    sha: str,
    size: int | None,
    partition: str | None,
    rows_read: int,
    rows_landed: int,
    rows_quarantined: int,
    partitions: Mapping[str, int],
    load_id: str,
    run_id: str,
) -> None:
    """A ledger row; `partition=None` means the whole file (then its date range is kept)."""
    whole = partition is None and bool(partitions)
    cur.execute(
        f"""insert into {ledger_table(spec)} (table_name, source_file, sha256, size_bytes, partition_key,
            rows_read, rows_landed, rows_quarantined, min_partition, max_partition, load_id, run_id)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            spec.qualified_name, file, sha, size, partition, rows_read, rows_landed, rows_quarantined,
            min(partitions) if whole else None, max(partitions) if whole else None, load_id, run_id or None,
        ),
    )
