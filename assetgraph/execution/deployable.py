"""`materialize_flow`: the module-level Prefect flow that deployments and `serve` run.

Its steps run as tasks of this flow run (no nested flow). The run ends Failed when any asset
failed or a blocking check stopped the selection, so Prefect automations can alert on it.
"""

from __future__ import annotations

from typing import Optional

from prefect import flow

from assetgraph.execution.runner import materialize
from assetgraph.loader import load_project

__all__ = ["materialize_flow"]


@flow(name="assetgraph-materialize", persist_result=False, log_prints=True)
def materialize_flow(
    selection: str,
    partition: Optional[str] = None,
    allow_failed_checks: Optional[list[str]] = None,
) -> dict:
    report = materialize(
        load_project(),
        selection,
        partitions=[partition] if partition else [],
        allow_failed_checks=allow_failed_checks or [],
        options={"trigger": "deployment"},
    )
    summary = {str(o.key) + (f"[{o.partition}]" if o.partition else ""): o.status.value for o in report.outcomes}
    if not report.succeeded:
        blocked = [str(c.key) for c in report.failed_checks]
        raise RuntimeError(
            f"selection {selection!r} did not succeed: {summary}"
            + (f"; failed blocking checks: {', '.join(blocked)}" if blocked else "")
        )
    return summary
