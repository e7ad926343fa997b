"""Bulk landing of CSV exports into `raw.*` tables: fast, atomic, idempotent, loud.

Two operations, each one transaction per unit of work:

- `land_new_files`: every file of a source whose content (sha256) is not landed yet streams
  through `CopyStream` into the table with `COPY ... FROM STDIN`; the ledger row and the
  quarantined rows are written in the same transaction, which then commits. A killed or failed
  load leaves the table as it was. Content landed before (under any name) is skipped; a file
  whose *name* was landed before with other content replaces that file's earlier rows.
- `replace_partition`: the rows of one `_partition` date are deleted and landed again from
  every file that can hold that date (per the ledger's date ranges, plus files not landed yet),
  in one transaction. It refuses, changing nothing, when rows of that date came from a file
  the source no longer has.

Rows that cannot be parsed go to `<schema>._quarantine` (file, line, reason; never the row).
When more than `max_quarantine_fraction` of a file's rows are bad
(`LANDING_MAX_QUARANTINE_FRACTION`, default 0.01) nothing of it lands and the load fails.
Loads of one table are serialised by a lock on its ledger (readers are never blocked).

Strategy (`LANDING_STRATEGY`): `direct` (default) COPYs into the table inside the load's
transaction, which is what makes it atomic; `staging` COPYs into a temporary table and moves
the rows with `INSERT ... SELECT` in the same transaction (the shape a Redshift `COPY` from S3
will need). On 1M rows `staging` took 3.7 s against 2.9 s (benchmarks/bench_landing.py, text
COPY format). Postgres only for now: Redshift has no `COPY FROM STDIN`.

Each landed table has a BRIN index on its load columns: before a load the earlier loads' pages
are summarized in it, after the load the load columns are analyzed (`ledger`), so a check of
tonight's loads reads tonight's pages only and is planned for tonight's row count.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from flows.landing import ledger
from flows.landing.copy_feed import copy_into
from flows.landing.copy_stream import CopyStream, StreamStats
from flows.landing.errors import (
    ConfigurationError,
    ExtractionError,
    LandingFailedError,
    QuarantineThresholdError,
    SourceFileMissingError,
    UnsupportedWarehouseError,
)
from flows.landing.file_sources import FileSource, SourceFile, sha256_of
from flows.landing.table_spec import TableSpec
from flows.landing.timestamps import TimestampParser

__all__ = ["LandingOptions", "FileLoad", "LandingResult", "land_new_files", "replace_partition"]

log = logging.getLogger("flows.landing")

_STRATEGIES = ("direct", "staging")


@dataclass(frozen=True)
class LandingOptions:
    max_quarantine_fraction: float = 0.01
    strategy: str = "direct"
    encoding: str = "utf-8"
    allow_header_only: bool = False  # a file with a header and no rows lands nothing instead of failing
    run_id: str = ""
    log: logging.Logger = field(default=log, repr=False, compare=False)
    # Hooks, for progress reporting and for tests that kill a load at a precise point:
    on_chunk: Callable[[StreamStats], None] | None = field(default=None, repr=False, compare=False)
    before_commit: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_quarantine_fraction <= 1.0:
            raise ConfigurationError(
                "LANDING_MAX_QUARANTINE_FRACTION", self.max_quarantine_fraction, "must be between 0 and 1"
            )
        if self.strategy not in _STRATEGIES:
            raise ConfigurationError("LANDING_STRATEGY", self.strategy, f"must be one of {', '.join(_STRATEGIES)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "LandingOptions":
        """Options from `LANDING_MAX_QUARANTINE_FRACTION` and `LANDING_STRATEGY`, then `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        raw = env.get("LANDING_MAX_QUARANTINE_FRACTION", "").strip()
        if raw:
            try:
                values["max_quarantine_fraction"] = float(raw)
            except ValueError:
                raise ConfigurationError("LANDING_MAX_QUARANTINE_FRACTION", raw, "is not a number") from None
        strategy = env.get("LANDING_STRATEGY", "").strip().lower()
        if strategy:
            values["strategy"] = strategy
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class FileLoad:
    """What happened to one file. No row content, so it is safe to log and to store."""

    file: str
    sha256: str
    status: str  # loaded | skipped | failed
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    partitions: Mapping[str, int] = field(default_factory=dict)
    load_id: str = ""
    replaced_previous: bool = False
    detail: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file, "status": self.status, "rows_landed": self.rows_landed,
            "rows_quarantined": self.rows_quarantined, "load_id": self.load_id,
            "seconds": round(self.seconds, 3),
        }
        if self.partitions:
            out["first_partition"], out["last_partition"] = min(self.partitions), max(self.partitions)
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class LandingResult:
    table: str
    partition: str | None
    strategy: str
    files: tuple[FileLoad, ...] = ()
    rows_deleted: int = 0

    @property
    def rows_landed(self) -> int:
        return sum(f.rows_landed for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    def metadata(self, max_files: int = 50) -> dict[str, Any]:
        """JSON-able summary for the asset catalog (no personal data)."""
        loaded = [f for f in self.files if f.status == "loaded"]
        meta: dict[str, Any] = {
            "table": self.table,
            "strategy": self.strategy,
            "files_loaded": len(loaded),
            "files_skipped": sum(f.status == "skipped" for f in self.files),
            "rows_landed": self.rows_landed,
            "rows_quarantined": self.rows_quarantined,
            "files": [f.as_dict() for f in loaded[:max_files]],
            # every row landed in this run carries one of these (checks validate just those)
            "load_ids": [f.load_id for f in loaded],
        }
        if self.partition:
            meta["partition"] = self.partition
            meta["rows_replaced"] = self.rows_deleted
        return meta


class _Loader:
    """The mechanics shared by both operations, on one connection."""

    def __init__(self, conn: Any, spec: TableSpec, source: FileSource, opts: LandingOptions) -> None:
        self.conn, self.spec, self.source, self.opts = conn, spec, source, opts
        ledger.prepare_session(conn, spec)
        loaded_at_default = ledger.ensure_tables(conn, spec)
        self.timestamps = TimestampParser(spec.timezone)
        # With the table default now(), `_loaded_at` is the load transaction's start time.
        self.loaded_at = None if loaded_at_default else dt.datetime.now(dt.timezone.utc).isoformat()

    def stream_into(self, cur: Any, target: str, f: SourceFile, load_id: str, only: str | None) -> tuple[StreamStats, str]:
        """COPY one file into `target`; returns its stats and sha256. When too many rows were
        bad: rolls back, records them in the quarantine, and raises."""
        with self.source.open(f.name) as raw:
            stream = CopyStream(
                raw, self.spec, f.name, load_id=load_id, loaded_at=self.loaded_at, only_partition=only,
                encoding=self.opts.encoding, timestamps=self.timestamps, on_chunk=self.opts.on_chunk,
                allow_header_only=self.opts.allow_header_only,
            )
            if stream.stats.ignored_columns:
                self.opts.log.warning("%s: ignoring %d unknown columns", f.name, len(stream.stats.ignored_columns))
            copy_into(cur, target, stream)
        stats, sha = stream.stats, stream.sha256 or ""
        if stats.bad_rows and stats.bad_rows > self.opts.max_quarantine_fraction * stats.rows_read:
            self.conn.rollback()
            with self.conn.cursor() as qcur:  # kept for diagnosis, though nothing landed
                ledger.write_quarantine(qcur, self.spec, f.name, sha, load_id, stats.quarantined)
            self.conn.commit()
            raise QuarantineThresholdError(
                f.name, stats.bad_rows, stats.rows_read, self.opts.max_quarantine_fraction,
                reasons=stats.bad_by_kind(), load_id=load_id, quarantine_table=ledger.quarantine_table(self.spec),
            )
        return stats, sha

    def staging_table(self, cur: Any) -> str | None:
        """A temporary copy of the table's shape with the `staging` strategy, else None."""
        if self.opts.strategy != "staging":
            return None
        name = f"_stage_{self.spec.name}_{_new_load_id()[:12]}"
        cur.execute(f"create temporary table {name} (like {self.spec.qualified_name} including defaults)")
        return name

    def move(self, cur: Any, stage: str | None) -> None:
        if stage is None:
            return
        cols = ", ".join(self.spec.expected_types())
        cur.execute(f"insert into {self.spec.qualified_name} ({cols}) select {cols} from {stage}")
        cur.execute(f"drop table {stage}")

    def record(self, cur: Any, load: FileLoad, stats: StreamStats, size: int | None, partition: str | None) -> None:
        ledger.write_quarantine(cur, self.spec, load.file, load.sha256, load.load_id, stats.quarantined)
        ledger.record_load(
            cur, self.spec, file=load.file, sha=load.sha256, size=size, partition=partition,
            rows_read=load.rows_read, rows_landed=load.rows_landed, rows_quarantined=load.rows_quarantined,
            partitions=stats.partitions, load_id=load.load_id, run_id=self.opts.run_id,
        )


def _tune(conn: Any, spec: TableSpec, opts: LandingOptions, step: Callable[[Any, TableSpec], Any]) -> None:
    """Run `ledger.summarize_earlier_loads` or `ledger.analyze_load_columns`. They only make
    scoped checks faster, so a failure is a warning: it costs speed, never data."""
    import psycopg2

    try:
        step(conn, spec)
    except psycopg2.Error as exc:
        conn.rollback()
        opts.log.warning("%s: %s failed (%s); checks of tonight's loads may read the whole table",
                         spec.qualified_name, step.__name__, str(exc).strip().splitlines()[0][:200])


def _new_load_id() -> str:
    return uuid.uuid4().hex[:16]  # 64 random bits: unique enough, and short on every row


def _connect(warehouse: Any) -> Any:
    if getattr(warehouse, "kind", "postgres") == "redshift":
        raise UnsupportedWarehouseError(
            "redshift", "COPY FROM STDIN does not exist there; landing needs an S3 staging prefix (not implemented)"
        )
    from assetgraph.warehouse import connect

    return connect(warehouse)


def land_new_files(
    warehouse: Any, spec: TableSpec, source: FileSource, options: LandingOptions | None = None
) -> LandingResult:
    """Land every file of `source` not landed yet, one transaction per file. The files that
    fail are raised together at the end (`LandingFailedError`, or the one error), after the
    others were landed."""
    opts = options or LandingOptions()
    files = source.list_files()
    loads: list[FileLoad] = []
    errors: list[ExtractionError] = []
    with _connect(warehouse) as conn:
        loader = _Loader(conn, spec, source, opts)
        _tune(conn, spec, opts, ledger.summarize_earlier_loads)
        state = ledger.read_ledger(conn, spec)
        for f in files:
            t0 = time.perf_counter()
            # Content landed before has a size seen before: only then is a separate checksum
            # pass worth it. Otherwise the checksum is computed while the file streams.
            sha = None
            if f.size is None or f.size in state.sizes or f.name in state.names:
                sha = sha256_of(source, f.name)
                if sha in state.full:
                    known = state.full[sha][0]
                    loads.append(FileLoad(f.name, sha, "skipped",
                                          detail="already loaded" if known == f.name else f"same content as {known}"))
                    continue
            try:
                load = _land_one(loader, f, sha, replace_name=f.name in state.names)
            except ExtractionError as exc:
                conn.rollback()
                opts.log.error("%s", exc)
                errors.append(exc)
                loads.append(FileLoad(f.name, sha or "", "failed", detail=str(exc)[:500]))
                continue
            load = replace(load, seconds=time.perf_counter() - t0)
            loads.append(load)
            if load.status == "loaded":
                state.full[load.sha256] = (f.name, None, None)
                state.names.add(f.name)
                if f.size is not None:
                    state.sizes.add(f.size)
                opts.log.info("%s: landed %d rows, quarantined %d (%.1fs)",
                              f.name, load.rows_landed, load.rows_quarantined, load.seconds)
        if any(load.status == "loaded" for load in loads):
            _tune(conn, spec, opts, ledger.analyze_load_columns)
    if errors:
        raise errors[0] if len(errors) == 1 else LandingFailedError(errors)
    return LandingResult(spec.qualified_name, None, opts.strategy, tuple(loads))


def _land_one(loader: _Loader, f: SourceFile, sha: str | None, replace_name: bool) -> FileLoad:
    """One file in one transaction. `sha` is None when it is computed while streaming."""
    conn, spec = loader.conn, loader.spec
    load_id = _new_load_id()
    with conn.cursor() as cur:
        ledger.lock(cur, spec)
        known = ledger.landed_as(cur, spec, sha) if sha else None  # by a concurrent run meanwhile?
        if known is None:
            if replace_name:  # an earlier version of this file (or some of its dates) is replaced
                cur.execute(f"delete from {spec.qualified_name} where _source_file = %s", (f.name,))
            stage = loader.staging_table(cur)
            stats, sha = loader.stream_into(cur, stage or spec.qualified_name, f, load_id, only=None)
            loader.move(cur, stage)
            known = ledger.landed_as(cur, spec, sha)
        if known is not None:  # the same content under another name, or landed concurrently
            conn.rollback()
            return FileLoad(f.name, sha or "", "skipped", detail=f"same content as {known}")
        load = FileLoad(
            f.name, sha, "loaded", rows_read=stats.rows_read, rows_landed=stats.rows_emitted,
            rows_quarantined=stats.bad_rows, partitions=dict(stats.partitions), load_id=load_id,
            replaced_previous=replace_name,
        )
        loader.record(cur, load, stats, f.size, None)
        if loader.opts.before_commit is not None:
            loader.opts.before_commit(f.name)
    conn.commit()
    return load


def replace_partition(
    warehouse: Any, spec: TableSpec, source: FileSource, partition: str, options: LandingOptions | None = None
) -> LandingResult:
    """Delete the rows of `partition` (a date, YYYY-MM-DD) and land them again from the
    source, in one transaction."""
    opts = options or LandingOptions()
    try:
        partition = dt.date.fromisoformat(partition).isoformat()
    except (TypeError, ValueError):
        raise ConfigurationError("partition", partition, "is not a date (YYYY-MM-DD)") from None
    present = {f.name: f for f in source.list_files()}
    shas = {name: sha256_of(source, name) for name in present}
    loads: list[FileLoad] = []
    with _connect(warehouse) as conn:
        loader = _Loader(conn, spec, source, opts)
        _tune(conn, spec, opts, ledger.summarize_earlier_loads)
        with conn.cursor() as cur:
            ledger.lock(cur, spec)
            chosen = _files_for_partition(present, shas, ledger.read_ledger(conn, spec).full, partition)
            cur.execute(f"select distinct _source_file from {spec.qualified_name} where _partition = %s", (partition,))
            gone = sorted(name for (name,) in cur.fetchall() if name not in present)
            if gone:
                raise SourceFileMissingError(spec.qualified_name, partition, gone)
            cur.execute(f"delete from {spec.qualified_name} where _partition = %s", (partition,))
            deleted = cur.rowcount
            stage = loader.staging_table(cur)
            streamed = []
            for f in chosen:
                t0 = time.perf_counter()
                load_id = _new_load_id()
                stats, _ = loader.stream_into(cur, stage or spec.qualified_name, f, load_id, only=partition)
                load = FileLoad(
                    f.name, shas[f.name], "loaded", rows_read=stats.rows_read, rows_landed=stats.rows_emitted,
                    rows_quarantined=stats.bad_rows, partitions={partition: stats.rows_emitted},
                    load_id=load_id, seconds=time.perf_counter() - t0,
                )
                streamed.append((load, stats))
            loader.move(cur, stage)
            for load, stats in streamed:
                loader.record(cur, load, stats, present[load.file].size, partition)
                loads.append(load)
            if opts.before_commit is not None:
                opts.before_commit(partition)
        conn.commit()
        _tune(conn, spec, opts, ledger.analyze_load_columns)
    read = {f.name for f in chosen}
    skipped = [FileLoad(n, shas[n], "skipped", detail="holds no rows of this date") for n in present if n not in read]
    result = LandingResult(spec.qualified_name, partition, opts.strategy, tuple(loads + skipped), rows_deleted=deleted)
    if not result.rows_landed:
        opts.log.warning("%s partition %s: no rows in the source for this date", spec.qualified_name, partition)
    opts.log.info("%s partition %s: replaced %d rows with %d from %d files",
                  spec.qualified_name, partition, deleted, result.rows_landed, len(loads))
    return result


def _files_for_partition(
    present: Mapping[str, SourceFile],
    shas: Mapping[str, str],
    full: Mapping[str, tuple[str, str | None, str | None]],
    partition: str,
) -> list[SourceFile]:
    """Files that can hold rows of `partition`: one per distinct content (preferring the name
    the ledger knows), minus those whose landed date range excludes the partition."""
    by_sha: dict[str, SourceFile] = {}
    for name in sorted(present):
        sha = shas[name]
        known = full.get(sha)
        if sha not in by_sha or (known is not None and known[0] == name):
            by_sha[sha] = present[name]
    chosen = []
    for sha, f in by_sha.items():
        known = full.get(sha)
        if known is not None and known[1] is not None and known[2] is not None:
            if not known[1] <= partition <= known[2]:
                continue
        chosen.append(f)
    return sorted(chosen, key=lambda f: f.name)
