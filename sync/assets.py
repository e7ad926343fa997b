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
from typing import Any, Iterator

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


def _assignment_count(context: AssetContext) -> int:
    from assetgraph.warehouse import connect

    with connect(context.warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"select count(*) from {MART}")
        return int(cur.fetchone()[0])


def _assignments(context: AssetContext, batch_size: int) -> Iterator[tuple[int, int]]:
    """The mart's pairs, read through a server-side cursor `batch_size` rows at a time (a
    Redshift cursor too), so the sync holds one batch, not the mart. The cursor's transaction
    sees the mart as it was when the sync started."""
    from assetgraph.warehouse import connect

    with connect(context.warehouse) as conn, conn.cursor(name="van_source_code_assignments") as cur:
        cur.itersize = batch_size
        cur.execute(f"select van_id, source_code_id from {MART} order by van_id")
        for van_id, code_id in cur:
            yield int(van_id), int(code_id)


def _dry_run(context: AssetContext, pairs: Iterator[tuple[int, int]]) -> MaterializeResult:
    by_code: dict[int, int] = {}
    sample: list[int] = []
    total = 0
    for van_id, code in pairs:
        by_code[code] = by_code.get(code, 0) + 1
        total += 1
        if len(sample) < 10:
            sample.append(van_id)
    context.log.info("dry run: would apply %d codes %s; sample VAN IDs %s", total, by_code, sample)
    return MaterializeResult(
        metadata={"would_apply": total, "by_code": {str(k): v for k, v in sorted(by_code.items())},
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

    batch_size = int(os.environ.get("EVERYACTION_BATCH_SIZE", "2000"))
    if context.dry_run:
        return _dry_run(context, _assignments(context, batch_size))
    config = ClientConfig.from_env()
    concurrency = int(os.environ.get("EVERYACTION_MAX_CONCURRENCY", "3"))
    summary = run_sync(
        lambda: psycopg2.connect(**context.warehouse.dsn_kwargs()),
        context.run_id,
        _assignments(context, batch_size),
        lambda: EveryActionClient(config),
        total=_assignment_count(context),
        concurrency=concurrency,
        batch_size=batch_size,
        max_failure_fraction=float(os.environ.get("EVERYACTION_MAX_FAILURE_FRACTION", "0.05")),
        slot_wait_seconds=float(os.environ.get("EVERYACTION_SLOT_WAIT_SECONDS", "300")),
    )
    context.log.info("sync: %s", summary.as_metadata())
    _artifact(summary)
    return MaterializeResult(row_count=summary.applied, metadata=summary.as_metadata())
