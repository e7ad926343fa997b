"""Asset status from the catalog: last run, last success, freshness, failing checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from assetgraph import catalog
from assetgraph.graph import AssetGraph
from assetgraph.keys import AssetKey
from assetgraph.warehouse import Warehouse

__all__ = ["AssetStatusView", "asset_status"]


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
