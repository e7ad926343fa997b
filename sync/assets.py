"""The sync's assets. Import-light: parsons, psycopg2 and Prefect load inside the functions.

Environment:
- EVERYACTION_API_URL: base URL including /v4/ (required; `make nightly` starts a simulator)
- EVERYACTION_API_KEY: the API key (or a Prefect Secret block named `everyaction-api-key`)
- EVERYACTION_DB: EveryAction (default) or MyVoters
- EVERYACTION_MAX_CONCURRENCY: requests in flight across the deployment (default 3)
- EVERYACTION_TIMEOUT_SECONDS: per-request timeout (default 10)
- EVERYACTION_MAX_FAILURE_FRACTION: not-found + bad-code + failed share that fails the sync (default 0.05)
- EVERYACTION_BATCH_SIZE: codes per ledger batch (default 2000)
- EVERYACTION_SLOT_WAIT_SECONDS: longest wait for a slot of `everyaction-api` (default 300;
  then a transient error: nothing was sent, the run can be retried)
"""

from __future__ import annotations

import os
from typing import Any

from assetgraph import AssetContext, MaterializeResult, asset

__all__ = ["van_sync_ledger", "van_source_codes"]

MART = "marts.van_source_code_assignments"


@asset("sync/van_sync_ledger", group="sync", description="The sync ledger table (created if missing).")
def van_sync_ledger(context: AssetContext) -> MaterializeResult:
    from assetgraph.warehouse import connect
    from sync.engine.ledger import LEDGER, ensure_ledger

    with connect(context.warehouse) as conn:
        ensure_ledger(conn)
        with conn.cursor() as cur:
            cur.execute(f"select count(*) from {LEDGER}")
            rows = cur.fetchone()[0]
    return MaterializeResult(row_count=rows)


def _assignments(context: AssetContext) -> list[tuple[int, int]]:
    from assetgraph.warehouse import connect

    with connect(context.warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"select van_id, source_code_id from {MART} order by van_id")
        return [(int(v), int(c)) for v, c in cur.fetchall()]


def _dry_run(context: AssetContext, pairs: list[tuple[int, int]]) -> MaterializeResult:
    by_code: dict[int, int] = {}
    for _, code in pairs:
        by_code[code] = by_code.get(code, 0) + 1
    sample = [v for v, _ in pairs[:10]]
    context.log.info("dry run: would apply %d codes %s; sample VAN IDs %s", len(pairs), by_code, sample)
    return MaterializeResult(
        metadata={"would_apply": len(pairs), "by_code": {str(k): v for k, v in sorted(by_code.items())},
                  "sample_van_ids": sample, "api_calls": 0},
    )


def _artifact(summary: Any) -> None:
    try:
        from prefect.artifacts import create_table_artifact
        from prefect.context import TaskRunContext

        if TaskRunContext.get() is None:
            return
        create_table_artifact(
            key="van-source-codes-sync",
            table=[{"measure": k, "value": v} for k, v in summary.as_metadata().items()],
            description="EveryAction origin source code sync",
        )
    except Exception as exc:  # an artifact must never fail the sync
        import logging

        logging.getLogger("sync").warning("could not create the summary artifact: %s", type(exc).__name__)


@asset(
    "sync/van_source_codes",
    deps=["marts/van_source_code_assignments", "sync/van_sync_ledger"],
    kind="sync",
    group="sync",
    tags=["nightly"],
    supports_dry_run=True,
)
def van_source_codes(context: AssetContext) -> MaterializeResult:
    """Apply each assignment's origin source code in EveryAction, exactly once."""
    import psycopg2

    from sync.everyaction.client import ClientConfig, EveryActionClient
    from sync.engine.run import run_sync

    pairs = _assignments(context)
    if context.dry_run:
        return _dry_run(context, pairs)
    config = ClientConfig.from_env()
    concurrency = int(os.environ.get("EVERYACTION_MAX_CONCURRENCY", "3"))
    summary = run_sync(
        lambda: psycopg2.connect(**context.warehouse.dsn_kwargs()),
        context.run_id,
        pairs,
        lambda: EveryActionClient(config),
        concurrency=concurrency,
        batch_size=int(os.environ.get("EVERYACTION_BATCH_SIZE", "2000")),
        max_failure_fraction=float(os.environ.get("EVERYACTION_MAX_FAILURE_FRACTION", "0.05")),
        slot_wait_seconds=float(os.environ.get("EVERYACTION_SLOT_WAIT_SECONDS", "300")),
    )
    context.log.info("sync: %s", summary.as_metadata())
    _artifact(summary)
    return MaterializeResult(row_count=summary.applied, metadata=summary.as_metadata())
