"""The volume circuit breaker: stop the sync when tonight's assignments jump far above what
recent successful syncs applied.

Baseline = mean count of the last N (default 7) successful materializations of the sync asset in
`asset_catalog.materializations` (their `row_count`, else metadata `applied`). The breaker trips
when tonight's count exceeds `factor x baseline` (env `CIRCUIT_BREAKER_FACTOR`, default 3) or the
absolute cap (env `CIRCUIT_BREAKER_MAX_ROWS`, default 50,000). Counts at or below
`CIRCUIT_BREAKER_MIN_ROWS` (default 100) never trip on the factor alone, so a quiet week does not
block a normal night. With no history only the cap applies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from assetgraph.specs import CheckResult
from assetgraph.warehouse import Warehouse, connect
from quality.errors import ConfigValueError

__all__ = [
    "BreakerConfig",
    "BreakerDecision",
    "decide",
    "sync_history",
    "count_rows",
    "evaluate",
    "MART_TABLE",
    "SYNC_ASSET",
]

MART_TABLE = "marts.van_source_code_assignments"
SYNC_ASSET = "sync/van_source_codes"
_CATALOG = "asset_catalog"


@dataclass(frozen=True)
class BreakerConfig:
    factor: float = 3.0
    max_rows: int = 50_000
    min_rows: int = 100
    history: int = 7

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "BreakerConfig":
        env = os.environ if environ is None else environ

        def num(name: str, default: float, cast: type) -> Any:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = cast(raw)
            except ValueError:
                raise ConfigValueError(name, raw, "is not a positive number") from None
            if value < 0 or (name == "CIRCUIT_BREAKER_FACTOR" and value == 0):
                raise ConfigValueError(name, raw, "is not a positive number")
            return value

        return cls(
            factor=num("CIRCUIT_BREAKER_FACTOR", cls.factor, float),
            max_rows=num("CIRCUIT_BREAKER_MAX_ROWS", cls.max_rows, int),
            min_rows=num("CIRCUIT_BREAKER_MIN_ROWS", cls.min_rows, int),
            history=max(1, num("CIRCUIT_BREAKER_HISTORY", cls.history, int)),
        )


@dataclass(frozen=True)
class BreakerDecision:
    tonight: int
    history: tuple[int, ...]
    baseline: float | None
    limit: int
    tripped: bool
    reason: str

    def metadata(self, config: BreakerConfig) -> dict[str, Any]:
        return {
            "tonight": self.tonight,
            "baseline": None if self.baseline is None else round(self.baseline, 2),
            "history_runs": len(self.history),
            "limit": self.limit,
            "factor": config.factor,
            "max_rows": config.max_rows,
            "min_rows": config.min_rows,
            "observed": f"{self.tonight:,} assignments",
            "expected": f"<= {self.limit:,} ({self.reason})",
        }


def decide(tonight: int, history: Sequence[int], config: BreakerConfig) -> BreakerDecision:
    """Pure decision: is tonight's count acceptable given recent history?"""
    hist = tuple(int(h) for h in history)[: config.history]
    baseline = sum(hist) / len(hist) if hist else None
    if baseline is None:
        limit, basis = config.max_rows, f"absolute cap {config.max_rows:,}; no sync history"
    else:
        relative = max(int(config.factor * baseline), config.min_rows)
        limit = min(relative, config.max_rows)
        basis = (
            f"{config.factor:g}x baseline {baseline:,.1f} over {len(hist)} syncs"
            f" (floor {config.min_rows:,}), cap {config.max_rows:,}"
        )
    return BreakerDecision(tonight, hist, baseline, limit, tonight > limit, basis)


def _count_of(row_count: Any, metadata: Any) -> int | None:
    if row_count is not None:
        return int(row_count)
    try:
        meta = json.loads(metadata) if isinstance(metadata, str) and metadata else {}
    except ValueError:
        return None
    for key in ("applied", "attempted"):
        value = meta.get(key) if isinstance(meta, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return None


def sync_history(wh: Warehouse, *, sync_asset: str = SYNC_ASSET, limit: int = 7) -> list[int]:
    """Counts of the last `limit` successful syncs, newest first ([] when there is no catalog)."""
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = %s and table_name = 'materializations'",
            (_CATALOG,),
        )
        if not cur.fetchone()[0]:
            return []
        cur.execute(
            f"select row_count, metadata from {_CATALOG}.materializations"
            " where asset_key = %s and status = 'success'"
            " order by finished_at desc nulls last limit %s",
            (sync_asset, max(limit * 4, 20)),
        )
        counts = [c for c in (_count_of(r, m) for r, m in cur.fetchall()) if c is not None]
    return counts[:limit]


def count_rows(wh: Warehouse, table: str = MART_TABLE) -> int:
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")  # table is a constant, never user input
        return int(cur.fetchone()[0])


def evaluate(
    wh: Warehouse,
    *,
    table: str = MART_TABLE,
    sync_asset: str = SYNC_ASSET,
    config: BreakerConfig | None = None,
) -> CheckResult:
    config = config or BreakerConfig.from_env()
    tonight = count_rows(wh, table)
    decision = decide(tonight, sync_history(wh, sync_asset=sync_asset, limit=config.history), config)
    meta = decision.metadata(config)
    baseline = "none (no successful syncs yet)" if decision.baseline is None else f"{decision.baseline:,.1f}"
    text = f"tonight {tonight:,} assignments; baseline {baseline}; limit {decision.limit:,} ({decision.reason})"
    if decision.tripped:
        return CheckResult.failed(f"circuit breaker tripped: {text}", **meta)
    return CheckResult.passed(text, **meta)
