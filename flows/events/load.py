"""Landing attendance pages into `raw.event_attendances`: spool, COPY, swap, in one transaction.

1. Pages are read to the end first (the API client raises on a failed page) and every record
   is parsed (`flows.events.records`) into a CSV spool (in memory up to 32 MB, then a temporary
   file): nothing touches the warehouse until the whole crawl succeeded.
2. One transaction: create `raw.event_attendances` and `raw._quarantine` if missing (and check
   an existing table's columns), `COPY ... FROM STDIN` the spool into a temporary staging table,
   keep one row per `attendance_id` (newest `modified_date`, then the later page), lock the raw
   table against concurrent loads, and swap the staged rows in: a full load replaces every
   row, a partition load replaces that day's rows (and any other row of the same attendances,
   so an attendance moved to another day is not landed twice). Quarantined records are written
   in the same transaction. Any failure rolls everything back: the previous contents stay.

The swap deletes and inserts rows rather than renaming tables: dbt's staging models are views
on this table, and Postgres views follow the table they were created on, so a rename swap
would leave them reading the old table (and dropping it would need CASCADE).

Rows whose data did not change since the last load keep their `_loaded_at`, `_load_id` and
`_source_page`: `_loaded_at` is the incremental watermark of the dbt models downstream, so an
unchanged attendance is not reprocessed every night. (The table's newest `_loaded_at` therefore
only moves when some attendance changed.)

More than `max_quarantine_fraction` bad records fails the load: the quarantine rows are kept
for diagnosis, nothing else changes. A full load that finds no records at all refuses to empty a
non-empty table unless `allow_empty`. Postgres only (Redshift has no `COPY FROM STDIN`).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from flows.events.errors import EventsEmptyResultError, EventsLoadError, EventsQuarantineThresholdError
from flows.events.records import DATA_COLUMNS, EVENT_ATTENDANCES_COLUMNS, AttendanceRow, parse_attendance

__all__ = ["TABLE", "QUARANTINE_TABLE", "LoadOptions", "LoadResult", "land_pages", "ensure_tables"]

TABLE = "raw.event_attendances"
QUARANTINE_TABLE = "raw._quarantine"
_SPOOL_BYTES = 32 * 1024 * 1024
_SQL_TYPES = {"bigint": "bigint", "text": "text", "date": "date", "timestamptz": "timestamp with time zone"}
_COLUMNS = [name for name, _ in EVENT_ATTENDANCES_COLUMNS]
_STAGE_EXTRA = ("_modified", "_seq")


@dataclass(frozen=True)
class LoadOptions:
    load_id: str
    loaded_at: dt.datetime
    partition: dt.date | None = None
    timezone: dt.tzinfo = dt.timezone.utc
    max_quarantine_fraction: float = 0.01
    allow_empty: bool = False


@dataclass(frozen=True)
class LoadResult:
    """Counts of one load (no personal data), for logs and the catalog."""

    load_id: str
    partition: str | None
    pages: int
    records_fetched: int
    api_count: int | None
    rows_staged: int
    duplicates: int
    rows_landed: int
    rows_unchanged: int
    rows_quarantined: int
    records_other_partitions: int
    van_ids_ignored: int
    seconds: float
    quarantine_reasons: Mapping[str, int] = field(default_factory=dict)
    api_stats: Mapping[str, Any] = field(default_factory=dict)  # set by the caller (client counts)

    def metadata(self) -> dict[str, Any]:
        return {
            "load_id": self.load_id,
            # rows new or changed in this load carry it (unchanged rows keep their old load id)
            "load_ids": [self.load_id],
            "partition": self.partition,
            "pages": self.pages,
            "records_fetched": self.records_fetched,
            "api_count": self.api_count,
            "rows_landed": self.rows_landed,
            "rows_changed": self.rows_landed - self.rows_unchanged,
            "rows_unchanged": self.rows_unchanged,
            "duplicates_dropped": self.duplicates,
            "rows_quarantined": self.rows_quarantined,
            "records_other_partitions": self.records_other_partitions,
            "van_ids_ignored": self.van_ids_ignored,
            "quarantine_reasons": dict(self.quarantine_reasons),
            "seconds": round(self.seconds, 3),
            **self.api_stats,
        }


@dataclass(frozen=True)
class _Bad:
    source: str
    record: str
    reason: str


def ensure_tables(cur: Any) -> None:
    """Create `raw`, the table and the quarantine table if missing; check the table's columns."""
    cur.execute("create schema if not exists raw")
    cols = ", ".join(f"{n} {t}" for n, t in EVENT_ATTENDANCES_COLUMNS)
    cur.execute(f"create table if not exists {TABLE} ({cols})")
    from flows.landing.ledger import quarantine_ddl

    cur.execute(quarantine_ddl("raw"))
    cur.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'raw' and table_name = 'event_attendances'"
    )
    found = dict(cur.fetchall())
    missing = [n for n, _ in EVENT_ATTENDANCES_COLUMNS if n not in found]
    wrong = [f"{n} ({found[n]}, expected {_SQL_TYPES[t]})" for n, t in EVENT_ATTENDANCES_COLUMNS
             if n in found and found[n] != _SQL_TYPES[t]]
    if missing or wrong:
        parts = (["missing columns " + ", ".join(missing)] if missing else []) + \
                (["unexpected types " + ", ".join(wrong)] if wrong else [])
        raise EventsLoadError(f"existing table {TABLE} does not match the contract: {'; '.join(parts)}; "
                              "nothing was changed")


def _csv_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def land_pages(warehouse: Any, pages: Iterable[Any], options: LoadOptions,
               log: logging.Logger | logging.LoggerAdapter | None = None) -> LoadResult:
    """Read every page (`flows.events.client.Page`), then land the records atomically."""
    log = log or logging.getLogger("flows.events.load")
    if getattr(warehouse, "kind", "postgres") != "postgres":
        raise EventsLoadError(f"landing events into {warehouse.kind} is not supported: COPY FROM STDIN is "
                              "Postgres-only (a Redshift load needs COPY from S3)")
    started = time.monotonic()
    partition = options.partition
    bad: list[_Bad] = []
    n_pages = records = staged = other = van_ignored = 0
    api_count: int | None = None
    spooled = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES, mode="w+", newline="", encoding="utf-8")
    with spooled as spool:
        writer = csv.writer(spool, lineterminator="\n")
        meta = (options.loaded_at.isoformat(), None, options.load_id)
        for page in pages:
            n_pages += 1
            if api_count is None:
                api_count = page.count
            for index, record in enumerate(page.records):
                records += 1
                parsed = parse_attendance(record, page=page.number, index=index, tz=options.timezone)
                if partition is not None and parsed.partition not in (None, partition):
                    other += 1
                    continue
                if not isinstance(parsed, AttendanceRow):
                    bad.append(_Bad(page.url, parsed.record, parsed.reason))
                    continue
                staged += 1
                van_ignored += parsed.van_id_ignored
                writer.writerow([*map(_csv_value, parsed.values()), meta[0], page.url, meta[2],
                                 parsed.partition.isoformat(), parsed.modified_date, staged])
        spool.flush()
        spool.seek(0)
        reasons = Counter(b.reason for b in bad)
        total = staged + len(bad)
        from assetgraph.warehouse import connect

        if bad and len(bad) > options.max_quarantine_fraction * total:
            with connect(warehouse) as conn, conn.cursor() as cur:
                ensure_tables(cur)
                _write_quarantine(cur, bad, options, replace=False)
            raise EventsQuarantineThresholdError(len(bad), total, options.max_quarantine_fraction, reasons,
                                                 options.load_id)
        with connect(warehouse) as conn, conn.cursor() as cur:
            ensure_tables(cur)
            cur.execute(f"lock table {TABLE} in exclusive mode")
            if partition is None and staged == 0 and not options.allow_empty:
                cur.execute(f"select count(*) from {TABLE}")
                existing = cur.fetchone()[0]
                if existing:
                    raise EventsEmptyResultError(existing)
            unique, landed, unchanged = _swap(cur, spool, partition)
            _write_quarantine(cur, bad, options, replace=partition is None)
    result = LoadResult(
        load_id=options.load_id, partition=partition.isoformat() if partition else None, pages=n_pages,
        records_fetched=records, api_count=api_count, rows_staged=staged, duplicates=staged - unique,
        rows_landed=landed, rows_unchanged=unchanged, rows_quarantined=len(bad),
        records_other_partitions=other, van_ids_ignored=van_ignored, seconds=time.monotonic() - started,
        quarantine_reasons=dict(reasons),
    )
    log.info("raw.event_attendances: %d rows landed (%d changed), %d quarantined, %d duplicates dropped, "
             "%d pages", landed, landed - unchanged, len(bad), result.duplicates, n_pages)
    return result


def _swap(cur: Any, spool: Any, partition: dt.date | None) -> tuple[int, int, int]:
    """COPY into staging, dedupe, keep unchanged rows' metadata, replace. (unique, landed, unchanged)"""
    cols = ", ".join(_COLUMNS)
    defs = ", ".join(f"{n} {t}" for n, t in EVENT_ATTENDANCES_COLUMNS)
    cur.execute(f"create temporary table _events_copy ({defs}, _modified bigint, _seq bigint) on commit drop")
    cur.copy_expert(f"copy _events_copy ({cols}, _modified, _seq) from stdin with (format csv)", spool)
    cur.execute(
        f"""create temporary table _events_stage on commit drop as
            select {cols} from (
                select *, row_number() over (
                    partition by attendance_id order by _modified desc nulls last, _seq desc) as _rank
                from _events_copy) as ranked
            where _rank = 1"""
    )
    cur.execute("select count(*) from _events_stage")
    unique = cur.fetchone()[0]
    compared = [*DATA_COLUMNS, "_partition"]
    cur.execute(
        f"""update _events_stage as s
            set _loaded_at = t._loaded_at, _load_id = t._load_id, _source_page = t._source_page
            from {TABLE} as t
            where t.attendance_id = s.attendance_id
              and ({", ".join("s." + c for c in compared)})
                  is not distinct from ({", ".join("t." + c for c in compared)})"""
    )
    unchanged = cur.rowcount
    if partition is None:
        cur.execute(f"delete from {TABLE}")
    else:
        cur.execute(
            f"delete from {TABLE} where _partition = %s "
            "or attendance_id in (select attendance_id from _events_stage)",
            (partition,),
        )
    cur.execute(f"insert into {TABLE} ({cols}) select {cols} from _events_stage")
    return unique, cur.rowcount, unchanged


def _quarantine_columns(cur: Any) -> dict[str, str | None]:
    """Where each of our fields goes in `raw._quarantine`. Tolerates the shape the CSV landing
    creates (`source_file` instead of `source`, no `record`: then the reference joins `reason`)."""
    cur.execute("select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = '_quarantine'")
    have = {r[0] for r in cur.fetchall()}
    mapping: dict[str, str | None] = {
        "table_name": "table_name" if "table_name" in have else None,
        "source": next((c for c in ("source", "source_file") if c in have), None),
        "record": "record" if "record" in have else None,
        "reason": "reason" if "reason" in have else None,
        "load_id": "load_id" if "load_id" in have else None,
        "quarantined_at": "quarantined_at" if "quarantined_at" in have else None,
    }
    needed = [k for k in ("table_name", "source", "reason", "load_id") if mapping[k] is None]
    if needed:
        raise EventsLoadError(f"{QUARANTINE_TABLE} exists without the columns {', '.join(needed)}; "
                              "nothing was changed")
    return mapping


def _write_quarantine(cur: Any, bad: list[_Bad], options: LoadOptions, *, replace: bool) -> None:
    from psycopg2.extras import execute_values

    cols = _quarantine_columns(cur)
    table_col = cols["table_name"]
    if replace:  # a full load re-read every record: earlier quarantine rows are superseded
        cur.execute(f"delete from {QUARANTINE_TABLE} where {table_col} = %s", (TABLE,))
    if not bad:
        return
    if cols["record"] is not None and not replace:
        cur.execute(f"delete from {QUARANTINE_TABLE} where {table_col} = %s and {cols['record']} = any(%s)",
                    (TABLE, [b.record for b in bad]))
    names = [cols["table_name"], cols["source"], cols["reason"], cols["load_id"]]
    rows: list[tuple[Any, ...]] = []
    for b in bad:
        reason = b.reason if cols["record"] else f"{b.reason} ({b.record})"
        row: list[Any] = [TABLE, b.source, reason, options.load_id]
        if cols["record"]:
            row.append(b.record)
        if cols["quarantined_at"]:
            row.append(options.loaded_at)
        rows.append(tuple(row))
    names += [c for c in (cols["record"], cols["quarantined_at"]) if c]
    execute_values(cur, f"insert into {QUARANTINE_TABLE} ({', '.join(names)}) values %s", rows)
