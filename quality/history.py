"""Read one run's quality facts from the catalog: the run, its materializations, its check
results, and each check's trend (its statuses in the previous runs). Portable SQL (Postgres and
Redshift: window functions, no FILTER, no DISTINCT ON)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from assetgraph.catalog import catalog_exists, parse_metadata
from assetgraph.warehouse import Warehouse, connect
from quality.errors import ReportError

__all__ = ["RunRow", "MaterializationRow", "CheckRow", "RunQuality", "load_run", "STATUS_ORDER"]

_SCHEMA = "asset_catalog"
# worst first: how check statuses sort in reports
STATUS_ORDER = {"error": 0, "failed": 1, "overridden": 2, "skipped": 3, "passed": 4}


@dataclass(frozen=True)
class RunRow:
    run_id: str
    selection: str | None
    partitions: str | None
    status: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    trigger: str | None
    message: str | None


@dataclass(frozen=True)
class MaterializationRow:
    asset_key: str
    partition_key: str | None
    status: str
    row_count: int | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    attempts: int | None
    message: str | None


@dataclass(frozen=True)
class CheckRow:
    asset_key: str
    check_name: str
    partition_key: str | None
    source: str | None
    blocking: bool
    status: str
    message: str | None
    metadata: Mapping[str, Any] = field(hash=False)
    evaluated_at: dt.datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.asset_key}:{self.check_name}"

    @property
    def blocks(self) -> bool:
        return self.blocking and self.status in ("failed", "error")


@dataclass(frozen=True)
class RunQuality:
    run_id: str
    run: RunRow | None
    materializations: tuple[MaterializationRow, ...]
    checks: tuple[CheckRow, ...]
    trends: Mapping[tuple[str, str], tuple[str, ...]] = field(hash=False)  # oldest -> newest

    @property
    def asset_keys(self) -> list[str]:
        keys = {m.asset_key for m in self.materializations} | {c.asset_key for c in self.checks}
        return sorted(keys)

    def checks_for(self, asset_key: str) -> list[CheckRow]:
        rows = [c for c in self.checks if c.asset_key == asset_key]
        return sorted(rows, key=lambda c: (STATUS_ORDER.get(c.status, 9), c.check_name, c.partition_key or ""))

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in ("passed", "failed", "error", "overridden", "skipped")}
        for c in self.checks:
            out[c.status] = out.get(c.status, 0) + 1
        return out

    def blocking_failures(self) -> list[CheckRow]:
        return [c for c in self.checks if c.blocks]


def load_run(wh: Warehouse, run_id: str, *, trend_runs: int = 7) -> RunQuality:
    """Everything the report needs for `run_id`. Raises ReportError for an unknown run."""
    with connect(wh) as conn, conn.cursor() as cur:
        if not catalog_exists(cur):
            raise ReportError(run_id, f"no catalog in schema {_SCHEMA}")
        cur.execute(
            f"select run_id, selection, partitions, status, started_at, finished_at, trigger, message"
            f" from {_SCHEMA}.runs where run_id = %s",
            (run_id,),
        )
        row = cur.fetchone()
        run = RunRow(*row) if row else None
        cur.execute(
            f"select asset_key, partition_key, status, row_count, started_at, finished_at, attempts, message"
            f" from {_SCHEMA}.materializations where run_id = %s order by asset_key, partition_key",
            (run_id,),
        )
        mats = tuple(MaterializationRow(*r) for r in cur.fetchall())
        cur.execute(
            f"select asset_key, check_name, partition_key, source, blocking, status, message, metadata,"
            f" evaluated_at from {_SCHEMA}.check_results where run_id = %s"
            f" order by asset_key, check_name, partition_key",
            (run_id,),
        )
        checks = tuple(
            CheckRow(a, n, p, s, bool(b), st, m, parse_metadata(md), ev) for a, n, p, s, b, st, m, md, ev in cur.fetchall()
        )
        if run is None and not mats and not checks:
            raise ReportError(run_id, "the catalog has no rows for this run")
        trends: dict[tuple[str, str], tuple[str, ...]] = {}
        if checks:
            cur.execute(
                f"""
                with mine as (
                    select distinct asset_key, check_name from {_SCHEMA}.check_results where run_id = %s
                ),
                cutoff as (
                    select min(evaluated_at) as t from {_SCHEMA}.check_results where run_id = %s
                ),
                ranked as (
                    select c.asset_key, c.check_name, c.status, c.evaluated_at,
                           row_number() over (
                               partition by c.asset_key, c.check_name order by c.evaluated_at desc
                           ) as rn
                    from {_SCHEMA}.check_results as c
                    join mine on mine.asset_key = c.asset_key and mine.check_name = c.check_name
                    cross join cutoff
                    where c.run_id <> %s and c.evaluated_at < cutoff.t
                )
                select asset_key, check_name, status from ranked where rn <= %s
                order by asset_key, check_name, evaluated_at
                """,
                (run_id, run_id, run_id, trend_runs),
            )
            acc: dict[tuple[str, str], list[str]] = {}
            for asset_key, check_name, status in cur.fetchall():
                acc.setdefault((asset_key, check_name), []).append(status)
            trends = {k: tuple(v) for k, v in acc.items()}
    return RunQuality(run_id=run_id, run=run, materializations=mats, checks=checks, trends=trends)
