"""The module-level Prefect flows that deployments and `scheduling.py serve` run.

- `materialize_flow(selection, ...)`: its steps run as tasks of this flow run (no nested flow);
  the run ends Failed when an asset failed or a blocking check stopped the selection.
- `freshness_flow()`: fails when an asset with a freshness policy is stale.

Both alert on failure through `on_failure` hooks: a JSON POST (`{"text": ...}`, the shape Slack
incoming webhooks accept) to `ASSETGRAPH_ALERT_WEBHOOK_URL` when it is set. Prefect
automations with notification blocks work too; this needs no paid tier and no extra setup.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any, Optional

from prefect import flow

from assetgraph.execution.runner import materialize
from assetgraph.loader import load_project

__all__ = ["materialize_flow", "freshness_flow", "notify_failure"]

log = logging.getLogger("assetgraph.alerts")


def notify_failure(flow_obj: Any, flow_run: Any, state: Any) -> None:
    url = os.environ.get("ASSETGRAPH_ALERT_WEBHOOK_URL")
    if not url:
        return
    text = (
        f"assetgraph: {flow_obj.name} run '{flow_run.name}' ({flow_run.id}) ended {state.name}"
        f"{': ' + state.message if state.message else ''}"
    )
    request = urllib.request.Request(
        url, data=json.dumps({"text": text[:3000]}).encode(), headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except OSError as exc:  # an alert that cannot be sent must not hide the original failure
        log.error("could not send the failure alert: %s", type(exc).__name__)


@flow(name="assetgraph-materialize", persist_result=False, on_failure=[notify_failure], on_crashed=[notify_failure])
def materialize_flow(
    selection: str,
    partition: Optional[str] = None,
    allow_failed_checks: Optional[list[str]] = None,
    full_refresh: bool = False,
) -> dict:
    report = materialize(
        load_project(),
        selection,
        partitions=[partition] if partition else [],
        allow_failed_checks=allow_failed_checks or [],
        options={"trigger": "deployment"},
        full_refresh=full_refresh,
    )
    summary = {str(o.key) + (f"[{o.partition}]" if o.partition else ""): o.status.value for o in report.outcomes}
    if not report.succeeded:
        blocked = [str(c.key) for c in report.failed_checks]
        failed = [k for k, v in summary.items() if v != "success"]
        raise RuntimeError(
            f"selection {selection!r} did not succeed; not ok: {', '.join(failed) or '-'}"
            + (f"; failed blocking checks: {', '.join(blocked)}" if blocked else "")
        )
    return summary


@flow(name="assetgraph-freshness", persist_result=False, on_failure=[notify_failure])
def freshness_flow(selection: Optional[str] = None) -> list[str]:
    """Fail (and so alert) when any selected asset with a freshness policy is stale."""
    from assetgraph.selection import select
    from assetgraph.status import asset_status
    from assetgraph.warehouse import resolve_warehouse

    project = load_project()
    keys = select(selection, project.graph) if selection else list(project.graph.keys)
    stale = [v.key for v in asset_status(resolve_warehouse(), project.graph, keys) if v.stale]
    if stale:
        raise RuntimeError(f"stale assets (past their freshness policy): {', '.join(stale)}")
    return stale
