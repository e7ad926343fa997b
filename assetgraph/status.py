"""Asset status from the catalog: last run, last success, freshness, failing checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from assetgraph import catalog
from assetgraph.graph import AssetGraph
from assetgraph.keys import AssetKey
from assetgraph.warehouse import Warehouse

__all__ = ["AssetStatusView", "asset_status", "status_sets"]


@dataclass(frozen=True)
class AssetStatusView:
    key: str
    kind: str
    last_status: str | None
    last_finished_at: dt.datetime | None
    last_success_at: dt.datetime | None
    row_count: int | None
    stale: bool | None  # None: no freshness policy
    freshness_hours: float | None
    failed_checks: tuple[str, ...]

    def as_json(self) -> dict:
        return {
            "key": self.key,
            "kind": self.kind,
            "last_status": self.last_status,
            "last_finished_at": self.last_finished_at.isoformat() + "Z" if self.last_finished_at else None,
            "last_success_at": self.last_success_at.isoformat() + "Z" if self.last_success_at else None,
            "row_count": self.row_count,
            "stale": self.stale,
            "freshness_hours": self.freshness_hours,
            "failed_checks": list(self.failed_checks),
        }


def asset_status(
    wh: Warehouse, graph: AssetGraph, keys: Iterable[AssetKey], now: dt.datetime | None = None
) -> list[AssetStatusView]:
    keys = list(keys)
    rows = catalog.latest_status(wh, [str(k) for k in keys])
    now = now or catalog.utcnow()
    out = []
    for k in keys:
        spec = graph.spec(k)
        r = rows[str(k)]
        stale = spec.freshness.is_stale(r.last_success_at, now) if spec.freshness else None
        out.append(
            AssetStatusView(
                key=str(k),
                kind=spec.kind.value,
                last_status=r.last_status,
                last_finished_at=r.last_finished_at,
                last_success_at=r.last_success_at,
                row_count=r.last_row_count,
                stale=stale,
                freshness_hours=spec.freshness.max_lag_hours if spec.freshness else None,
                failed_checks=r.failed_checks,
            )
        )
    return out


def status_sets(wh: Warehouse, graph: AssetGraph, now: dt.datetime | None = None) -> dict[str, frozenset[AssetKey]]:
    """The assets behind `status:failed|stale|never`, from the catalog.

    failed: the last materialization failed, or a blocking check fails in its latest evaluation;
    stale: past its freshness policy; never: never materialized successfully (sources aside)."""
    from assetgraph.keys import CheckKey

    keys = [k for k in graph.keys if graph.materializable(k)]
    views = {v.key: v for v in asset_status(wh, graph, keys, now)}
    failed, stale, never = set(), set(), set()
    for k in keys:
        v = views[str(k)]
        blocking = any(
            (c := graph.checks.get(CheckKey(k, name))) is not None and c.blocking for name in v.failed_checks
        )
        if v.last_status == "failed" or blocking:
            failed.add(k)
        if v.stale:
            stale.add(k)
        if v.last_success_at is None:
            never.add(k)
    return {"failed": frozenset(failed), "stale": frozenset(stale), "never": frozenset(never)}
