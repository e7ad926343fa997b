"""The catalog: every run, materialization and check result as rows in the warehouse.

Analysts answer "when was this last refreshed and did it pass" in SQL::

    select asset_key, max(finished_at) from asset_catalog.materializations
    where status = 'success' group by 1;

DDL is portable to Redshift (no JSONB, no arrays, no ON CONFLICT); metadata is JSON text.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from assetgraph.warehouse import Warehouse, connect

__all__ = [
    "SCHEMA",
    "ensure_catalog",
    "record_run_start",
    "record_run_end",
    "record_materialization",
    "record_check",
    "latest_status",
    "failing_blocking_checks",
    "AssetStatusRow",
    "utcnow",
    "catalog_exists",
    "parse_metadata",
    "RunRecord",
    "read_run",
    "latest_failed_run",
    "mark_crashed_runs",
    "run_steps",
    "StepRow",
    "CheckRow",
    "retries_of",
]

SCHEMA = "asset_catalog"

_DDL = [
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.runs (
        run_id varchar(64) not null,
        selection varchar(4096),
        partitions varchar(4096),
        status varchar(32),
        started_at timestamp,
        finished_at timestamp,
        trigger varchar(64),
        message varchar(4096),
        retry_of varchar(64),
        metadata varchar(65535)
    )""",
    f"""create table if not exists {SCHEMA}.materializations (
        run_id varchar(64) not null,
        asset_key varchar(512) not null,
        partition_key varchar(64),
        status varchar(32) not null,
        started_at timestamp,
        finished_at timestamp,
        row_count bigint,
        code_version varchar(128),
        attempts integer,
        message varchar(4096),
        metadata varchar(65535)
    )""",
    f"""create table if not exists {SCHEMA}.check_results (
        run_id varchar(64) not null,
        asset_key varchar(512) not null,
        check_name varchar(512) not null,
        partition_key varchar(64),
        source varchar(32),
        blocking boolean,
        status varchar(32) not null,
        message varchar(4096),
        metadata varchar(65535),
        evaluated_at timestamp
    )""",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _json(value: Mapping[str, Any] | None) -> str:
    text = json.dumps(dict(value or {}), default=str, sort_keys=True)
    return text[:65000]


def parse_metadata(text: str | None) -> dict[str, Any]:
    """A `metadata` column back as a dict; `{}` for empty or unreadable text (never raises)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def catalog_exists(cur: Any) -> bool:
    """Whether the three catalog tables exist (a warehouse no run has touched has none)."""
    cur.execute(
        "select count(*) from information_schema.tables where table_schema = %s"
        " and table_name in ('runs', 'materializations', 'check_results')",
        (SCHEMA,),
    )
    return int(cur.fetchone()[0]) == 3


def _clip(text: str | None, n: int = 4000) -> str | None:
    return None if text is None else text[:n]


# Columns added after the first release: (table, column, type). `ensure_catalog` adds the ones
# an existing catalog lacks (Redshift has no `add column if not exists`, so it asks first).
_ADDED_COLUMNS = (
    ("runs", "retry_of", "varchar(64)"),
    ("runs", "metadata", "varchar(65535)"),
)


def ensure_catalog(wh: Warehouse) -> None:
    with connect(wh) as conn, conn.cursor() as cur:
        for stmt in _DDL:
            cur.execute(stmt)
    _migrate(wh)


def _migrate(wh: Warehouse) -> None:
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(
            "select table_name, column_name from information_schema.columns where table_schema = %s",
            (SCHEMA,),
        )
        have = set(cur.fetchall())
    for table, column, kind in _ADDED_COLUMNS:
        if (table, column) in have:
            continue
        try:
            with connect(wh) as conn, conn.cursor() as cur:
                cur.execute(f"alter table {SCHEMA}.{table} add column {column} {kind}")
        except Exception as exc:  # another process added it between our look and our alter
            if "already exists" not in str(exc):
                raise


def record_run_start(
    wh: Warehouse,
    run_id: str,
    selection: str,
    partitions: Sequence[str],
    trigger: str,
    *,
    retry_of: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """`metadata`: the run's options (full_refresh, allow_failed_checks, defer state, the planned
    assets), so `assetgraph retry` can run it again the same way."""
    # which process runs it: a run left `running` by a process that is gone is marked crashed
    meta = {**(metadata or {}), "process": this_process()}
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(
            f"insert into {SCHEMA}.runs (run_id, selection, partitions, status, started_at, trigger,"
            " retry_of, metadata) values (%s, %s, %s, 'running', %s, %s, %s, %s)",
            (run_id, _clip(selection), _clip(",".join(partitions)), utcnow(), trigger, retry_of,
             _fitting_json(meta)),
        )


# ---- runs whose process died (SIGKILL, OOM, a lost container) ---------------------------------
def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), which tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def this_process() -> dict[str, Any]:
    """Host, pid and start time of this process, recorded with each run it starts."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _process_start(os.getpid())}


def process_gone(process: Mapping[str, Any] | None) -> bool:
    """True only when it is certain: the run's process was on this host and that pid is dead or
    now another process. A run of another host (a worker, a container) is never judged here."""
    if not process or process.get("host") != socket.gethostname():
        return False
    pid = process.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    start = process.get("start")
    now = _process_start(pid)
    return start is not None and now is not None and now != start


def mark_crashed_runs(wh: Warehouse) -> list[str]:
    """Runs still `running` whose process is gone become `crashed`, and their `running` steps
    `failed`, so status, the catalog site and `assetgraph retry` see what a killed process left.
    Idempotent; safe beside live runs (they are never touched). Returns the run ids marked."""
    with connect(wh) as conn, conn.cursor() as cur:
        if not catalog_exists(cur):
            return []
        cur.execute(f"select run_id, metadata from {SCHEMA}.runs where status = 'running'")
        dead = []
        for run_id, metadata in cur.fetchall():
            process = parse_metadata(metadata).get("process")
            if isinstance(process, Mapping) and process_gone(process):
                dead.append((run_id, process))
        now = utcnow()
        for run_id, process in dead:
            why = f"crashed: its process (pid {process.get('pid')} on {process.get('host')}) is gone"
            cur.execute(
                f"update {SCHEMA}.runs set status = 'crashed', finished_at = %s, message = %s"
                " where run_id = %s and status = 'running'",
                (now, why, run_id),
            )
            cur.execute(
                f"update {SCHEMA}.materializations set status = 'failed', finished_at = %s, message = %s"
                " where run_id = %s and status = 'running'",
                (now, why, run_id),
            )
    return [run_id for run_id, _ in dead]


def record_run_end(
    wh: Warehouse, run_id: str, status: str, message: str = "", metadata: Mapping[str, Any] | None = None
) -> None:
    """`metadata`, when given, replaces the run's metadata (start metadata plus what dbt ran)."""
    with connect(wh) as conn, conn.cursor() as cur:
        if metadata is None:
            cur.execute(
                f"update {SCHEMA}.runs set status = %s, finished_at = %s, message = %s where run_id = %s",
                (status, utcnow(), _clip(message), run_id),
            )
        else:
            cur.execute(
                f"update {SCHEMA}.runs set status = %s, finished_at = %s, message = %s, metadata = %s"
                " where run_id = %s",
                (status, utcnow(), _clip(message), _fitting_json(metadata), run_id),
            )


def _fitting_json(value: Mapping[str, Any] | None) -> str:
    """JSON that fits the column: optional bulky entries (`_BULKY`) are dropped, never cut."""
    data = dict(value or {})
    text = json.dumps(data, default=str, sort_keys=True)
    for name in _BULKY:
        if len(text.encode()) <= 65000:
            break
        if data.pop(name, None) is not None:
            data[name + "_omitted"] = True
            text = json.dumps(data, default=str, sort_keys=True)
    return text if len(text.encode()) <= 65000 else json.dumps({"omitted": True})


_BULKY = ("dbt_invocations", "steps")


def record_materialization(
    wh: Warehouse,
    *,
    run_id: str,
    asset_key: str,
    partition_key: str | None,
    status: str,
    started_at: dt.datetime | None,
    finished_at: dt.datetime | None,
    row_count: int | None = None,
    code_version: str | None = None,
    attempts: int = 1,
    message: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> None:
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(
            f"insert into {SCHEMA}.materializations (run_id, asset_key, partition_key, status,"
            " started_at, finished_at, row_count, code_version, attempts, message, metadata)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                run_id, asset_key, partition_key, status, started_at, finished_at, row_count,
                code_version, attempts, _clip(message), _json(metadata),
            ),
        )


def record_check(
    wh: Warehouse,
    *,
    run_id: str,
    asset_key: str,
    check_name: str,
    partition_key: str | None,
    source: str,
    blocking: bool,
    status: str,
    message: str = "",
    metadata: Mapping[str, Any] | None = None,
) -> None:
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(
            f"insert into {SCHEMA}.check_results (run_id, asset_key, check_name, partition_key,"
            " source, blocking, status, message, metadata, evaluated_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                run_id, asset_key, check_name, partition_key, source, blocking, status,
                _clip(message), _json(metadata), utcnow(),
            ),
        )


@dataclass(frozen=True)
class AssetStatusRow:
    asset_key: str
    last_status: str | None
    last_run_id: str | None
    last_finished_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_row_count: int | None
    failed_checks: tuple[str, ...]


def latest_status(wh: Warehouse, keys: Iterable[str]) -> dict[str, AssetStatusRow]:
    """Last materialization per asset, last success time, and checks failing in the last run."""
    keys = list(keys)
    out: dict[str, AssetStatusRow] = {}
    if not keys:
        return out
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(
            "select exists (select 1 from information_schema.tables"
            " where table_schema = %s and table_name = 'materializations')",
            (SCHEMA,),
        )
        if not cur.fetchone()[0]:
            return {k: AssetStatusRow(k, None, None, None, None, None, ()) for k in keys}
        cur.execute(
            f"""
            with ranked as (
                select asset_key, status, run_id, finished_at, row_count,
                       row_number() over (partition by asset_key order by finished_at desc nulls last) as rn
                from {SCHEMA}.materializations
                where asset_key in %s and status <> 'running'
            ),
            success as (
                select asset_key, max(finished_at) as last_success_at
                from {SCHEMA}.materializations
                where asset_key in %s and status = 'success'
                group by asset_key
            )
            select r.asset_key, r.status, r.run_id, r.finished_at, r.row_count, s.last_success_at
            from ranked as r left join success as s on r.asset_key = s.asset_key
            where r.rn = 1
            """,
            (tuple(keys), tuple(keys)),
        )
        rows = {r[0]: r for r in cur.fetchall()}
        cur.execute(
            f"""
            select c.asset_key, c.check_name from {SCHEMA}.check_results as c
            join (
                select asset_key, max(evaluated_at) as at from {SCHEMA}.check_results
                where asset_key in %s group by asset_key
            ) as last on c.asset_key = last.asset_key
            join {SCHEMA}.check_results as latest_run
              on latest_run.asset_key = last.asset_key and latest_run.evaluated_at = last.at
            where c.run_id = latest_run.run_id and c.status in ('failed', 'error')
            """,
            (tuple(keys),),
        )
        failing: dict[str, set[str]] = {}
        for asset_key, check_name in cur.fetchall():
            failing.setdefault(asset_key, set()).add(check_name)
    for k in keys:
        r = rows.get(k)
        out[k] = AssetStatusRow(
            asset_key=k,
            last_status=r[1] if r else None,
            last_run_id=r[2] if r else None,
            last_finished_at=r[3] if r else None,
            last_success_at=r[5] if r else None,
            last_row_count=r[4] if r else None,
            failed_checks=tuple(sorted(failing.get(k, ()))),
        )
    return out


def failing_blocking_checks(wh: Warehouse, asset_keys: Iterable[str]) -> dict[str, list[str]]:
    """For each asset, the blocking checks whose latest recorded result is failed or error.

    Used when a selection runs an asset without its upstream: the gate still holds, judged by
    the upstream's last recorded check results (an override is recorded as `overridden`)."""
    keys = list(asset_keys)
    if not keys:
        return {}
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(
            f"""
            with ranked as (
                select asset_key, check_name, status, blocking,
                       row_number() over (partition by asset_key, check_name order by evaluated_at desc) as rn
                from {SCHEMA}.check_results
                where asset_key in %s and status <> 'skipped'
            )
            select asset_key, check_name from ranked
            where rn = 1 and blocking and status in ('failed', 'error')
            order by 1, 2
            """,
            (tuple(keys),),
        )
        return _grouped(cur.fetchall())


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    selection: str
    partitions: tuple[str, ...]
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    trigger: str
    message: str
    retry_of: str | None
    metadata: Mapping[str, Any]


_RUN_COLUMNS = "run_id, selection, partitions, status, started_at, finished_at, trigger, message, retry_of, metadata"


def _run_record(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        run_id=row[0], selection=row[1] or "", partitions=tuple(p for p in (row[2] or "").split(",") if p),
        status=row[3] or "", started_at=row[4], finished_at=row[5], trigger=row[6] or "", message=row[7] or "",
        retry_of=row[8], metadata=parse_metadata(row[9]),
    )


def read_run(wh: Warehouse, run_id: str) -> RunRecord | None:
    with connect(wh) as conn, conn.cursor() as cur:
        if not catalog_exists(cur):
            return None
        cur.execute(f"select {_RUN_COLUMNS} from {SCHEMA}.runs where run_id = %s", (run_id,))
        row = cur.fetchone()
    return _run_record(row) if row else None


def latest_failed_run(wh: Warehouse) -> RunRecord | None:
    """The newest materialize run that ended failed or crashed (`check` runs are not retried), followed
    along its retries to the last one: that one when it failed too, else None (all retried)."""
    with connect(wh) as conn, conn.cursor() as cur:
        if not catalog_exists(cur):
            return None
        cur.execute(
            f"select {_RUN_COLUMNS} from {SCHEMA}.runs where status in ('failed', 'crashed')"
            " and run_id not like 'check-%'"
            " and retry_of is null order by started_at desc nulls last limit 1"
        )
        row = cur.fetchone()
        run = _run_record(row) if row else None
        seen = set()
        while run is not None and run.run_id not in seen:
            seen.add(run.run_id)
            cur.execute(
                f"select {_RUN_COLUMNS} from {SCHEMA}.runs where retry_of = %s order by started_at desc nulls last limit 1",
                (run.run_id,),
            )
            row = cur.fetchone()
            if row is None:
                break
            run = _run_record(row)
    return run if run is not None and run.status != "success" else None


def retries_of(cur: Any, run_ids: Iterable[str]) -> dict[str, list[str]]:
    """For each run id, the runs that retried it, oldest first (on an open cursor)."""
    ids = tuple(run_ids)
    if not ids:
        return {}
    cur.execute(f"select retry_of, run_id from {SCHEMA}.runs where retry_of in %s order by started_at", (ids,))
    return _grouped(cur.fetchall())


def _grouped(pairs: Iterable[Sequence[str]]) -> dict[str, list[str]]:
    """(key, value) rows as key -> values, in row order."""
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


@dataclass(frozen=True)
class StepRow:
    asset_key: str
    partition_key: str | None
    status: str
    code_version: str | None


@dataclass(frozen=True)
class CheckRow:
    asset_key: str
    check_name: str
    partition_key: str | None
    blocking: bool
    status: str
    source: str = ""


def run_steps(wh: Warehouse, run_id: str) -> tuple[list[StepRow], list[CheckRow]]:
    """The materialization and check rows one run wrote."""
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(
            f"select asset_key, partition_key, status, code_version from {SCHEMA}.materializations"
            " where run_id = %s order by started_at nulls last, asset_key",
            (run_id,),
        )
        steps = [StepRow(*r) for r in cur.fetchall()]
        cur.execute(
            f"select asset_key, check_name, partition_key, coalesce(blocking, false), status, coalesce(source, '')"
            f" from {SCHEMA}.check_results where run_id = %s order by asset_key, check_name",
            (run_id,),
        )
        checks = [CheckRow(*r) for r in cur.fetchall()]
    return steps, checks
