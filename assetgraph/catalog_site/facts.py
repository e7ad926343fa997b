"""What the catalog site shows, read once from the graph and the catalog tables.

A fixed number of queries (recent materializations, recent check results, recent runs and the
steps and retries of those runs), however many assets there are, so a 500-model project costs
the same round trips as a 5-model one. Nothing here
renders HTML; `render.py` turns these values into pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from assetgraph.catalog import SCHEMA, catalog_exists, parse_metadata, retries_of, utcnow
from assetgraph.graph import AssetGraph
from assetgraph.specs import AssetKind, AssetSpec, CheckSpec
from assetgraph.warehouse import Warehouse, connect

__all__ = [
    "DISPLAY_STATUSES",
    "Materialization",
    "CheckRun",
    "CheckFacts",
    "AssetFacts",
    "RunFacts",
    "RunStep",
    "SiteFacts",
    "display_status",
    "gather",
]

# status -> what the page calls it, in the order of the legend
DISPLAY_STATUSES = ("materialized", "failed", "blocked", "skipped", "stale", "never", "source")


@dataclass(frozen=True)
class Materialization:
    run_id: str
    partition_key: str | None
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    row_count: int | None
    attempts: int | None
    message: str
    metadata: Mapping[str, Any]

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True)
class CheckRun:
    run_id: str
    status: str
    message: str
    metadata: Mapping[str, Any]
    evaluated_at: dt.datetime | None


@dataclass(frozen=True)
class CheckFacts:
    spec: CheckSpec
    history: tuple[CheckRun, ...]  # newest first

    @property
    def latest(self) -> CheckRun | None:
        return self.history[0] if self.history else None

    @property
    def failing(self) -> bool:
        return self.latest is not None and self.latest.status in ("failed", "error")


@dataclass(frozen=True)
class AssetFacts:
    spec: AssetSpec
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    history: tuple[Materialization, ...]  # newest first
    last_success_at: dt.datetime | None
    stale: bool | None  # None: no freshness policy
    checks: tuple[CheckFacts, ...]
    sql: str | None
    sql_is_compiled: bool

    @property
    def key(self) -> str:
        return str(self.spec.key)

    @property
    def status(self) -> str:
        last = self.history[0] if self.history else None
        return display_status(self.spec.kind, last.status if last else None, last.message if last else "", self.stale)

    @property
    def failing_checks(self) -> tuple[str, ...]:
        return tuple(c.spec.key.name for c in self.checks if c.failing)

    @property
    def blocks(self) -> bool:
        """A blocking check of this asset failed (or could not run) in its latest evaluation."""
        return any(c.failing and c.spec.blocking for c in self.checks)


@dataclass(frozen=True)
class RunStep:
    asset_key: str
    partition_key: str | None
    status: str
    message: str


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    selection: str
    status: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    trigger: str
    message: str
    retry_of: str | None = None  # the run this one retried
    retried_by: tuple[str, ...] = ()  # the runs that retried this one, oldest first
    partitions: str = ""
    steps: tuple[RunStep, ...] = ()


@dataclass(frozen=True)
class SiteFacts:
    assets: tuple[AssetFacts, ...]
    runs: tuple[RunFacts, ...]  # newest first
    generated_at: dt.datetime


def display_status(kind: AssetKind, last_status: str | None, message: str, stale: bool | None) -> str:
    """The one word the diagram colours an asset by."""
    if last_status is None:
        return "source" if kind is AssetKind.SOURCE else "never"
    if last_status == "failed":
        return "failed"
    if last_status == "skipped":
        return "blocked" if message.startswith("blocked") else "skipped"
    if stale:
        return "stale"
    return "materialized"


def _read_catalog(wh: Warehouse, history: int) -> tuple[dict, dict, dict, list[RunFacts]]:
    mats: dict[str, list[Materialization]] = {}
    last_success: dict[str, dt.datetime] = {}
    checks: dict[tuple[str, str], list[CheckRun]] = {}
    runs: list[RunFacts] = []
    with connect(wh) as conn, conn.cursor() as cur:
        if not catalog_exists(cur):
            return mats, checks, last_success, runs
        cur.execute(
            f"""select asset_key, run_id, partition_key, status, started_at, finished_at, row_count,
                       attempts, message, metadata
                from (select m.*, row_number() over (partition by asset_key
                             order by finished_at desc nulls last, started_at desc nulls last) as rn
                      from {SCHEMA}.materializations as m where status <> 'running') as ranked
                where rn <= %s order by asset_key, rn""",
            (history,),
        )
        for key, *rest in cur.fetchall():
            *head, message, metadata = rest
            mats.setdefault(key, []).append(Materialization(*head, message or "", parse_metadata(metadata)))
        cur.execute(
            f"select asset_key, max(finished_at) from {SCHEMA}.materializations"
            " where status = 'success' group by asset_key"
        )
        last_success = dict(cur.fetchall())
        cur.execute(
            f"""select asset_key, check_name, run_id, status, message, metadata, evaluated_at
                from (select c.*, row_number() over (partition by asset_key, check_name
                             order by evaluated_at desc nulls last) as rn
                      from {SCHEMA}.check_results as c) as ranked
                where rn <= %s order by asset_key, check_name, rn""",
            (history,),
        )
        for key, name, run_id, status, message, metadata, at in cur.fetchall():
            checks.setdefault((key, name), []).append(CheckRun(run_id, status, message or "", parse_metadata(metadata), at))
        runs = _read_runs(cur, history)
    return mats, checks, last_success, runs


def _read_runs(cur: Any, history: int) -> list[RunFacts]:
    """The recent runs with their steps and retry links (a catalog from before `retry_of`
    existed reads as one without retries)."""
    cur.execute(
        "select count(*) from information_schema.columns where table_schema = %s and table_name = 'runs'"
        " and column_name = 'retry_of'",
        (SCHEMA,),
    )
    retry_col = "retry_of" if cur.fetchone()[0] else "cast(null as varchar(64))"
    cur.execute(
        f"""select run_id, selection, status, started_at, finished_at, trigger, message, {retry_col}, partitions
            from {SCHEMA}.runs order by started_at desc nulls last limit %s""",
        (history,),
    )
    rows = cur.fetchall()
    ids = tuple(r[0] for r in rows)
    if not ids:
        return []
    children = retries_of(cur, ids) if retry_col == "retry_of" else {}
    cur.execute(
        f"""select run_id, asset_key, partition_key, status, message from {SCHEMA}.materializations
            where run_id in %s order by started_at nulls last, finished_at, asset_key""",
        (ids,),
    )
    steps: dict[str, list[RunStep]] = {}
    for run_id, key, part, status, message in cur.fetchall():
        steps.setdefault(run_id, []).append(RunStep(key, part, status, message or ""))
    return [
        RunFacts(r[0], r[1] or "", r[2] or "", r[3], r[4], r[5] or "", r[6] or "", retry_of=r[7],
                 retried_by=tuple(children.get(r[0], ())), partitions=r[8] or "", steps=tuple(steps.get(r[0], ())))
        for r in rows
    ]


def _sql(spec: AssetSpec, dbt_project_dir: Path | None) -> tuple[str | None, bool]:
    """The compiled SQL dbt last wrote for a model, or its source SQL when it was never compiled."""
    path = spec.metadata.get("path") if spec.kind is AssetKind.DBT else None
    if not path or dbt_project_dir is None:
        return None, False
    for compiled in sorted((dbt_project_dir / "target" / "compiled").glob(f"*/{path}")):
        return compiled.read_text(encoding="utf-8", errors="replace"), True
    source = dbt_project_dir / path
    if source.is_file() and source.suffix == ".sql":
        return source.read_text(encoding="utf-8", errors="replace"), False
    return None, False


def gather(
    graph: AssetGraph,
    wh: Warehouse | None,
    *,
    dbt_project_dir: Path | None = None,
    history: int = 10,
    now: dt.datetime | None = None,
) -> SiteFacts:
    """Everything the site shows. With `wh=None` (no warehouse yet) every asset is `never`."""
    mats, check_rows, successes, runs = _read_catalog(wh, history) if wh is not None else ({}, {}, {}, [])
    now = now or utcnow()
    assets = []
    for k in graph.keys:
        spec = graph.spec(k)
        key = str(k)
        history_rows = tuple(mats.get(key, ()))
        last_success = successes.get(key)
        stale = spec.freshness.is_stale(last_success, now) if spec.freshness else None
        sql, compiled = _sql(spec, dbt_project_dir)
        assets.append(
            AssetFacts(
                spec=spec,
                upstream=tuple(sorted(str(p) for p in graph.parents(k))),
                downstream=tuple(sorted(str(c) for c in graph.children(k))),
                history=history_rows,
                last_success_at=last_success,
                stale=stale,
                checks=tuple(
                    CheckFacts(spec=c, history=tuple(check_rows.get((key, c.key.name), ())))
                    for c in graph.checks_for(k)
                ),
                sql=sql,
                sql_is_compiled=compiled,
            )
        )
    return SiteFacts(assets=tuple(assets), runs=tuple(runs), generated_at=now)
