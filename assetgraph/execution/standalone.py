"""Run one Python asset as a plain Prefect flow (`python -m flows.<source>.assets`), outside the graph:
the same function, context and catalog-free result, for a quick manual load."""

from __future__ import annotations

from typing import Any

from assetgraph._env import drain_prefect_services
from assetgraph.definitions import AssetContext, AssetDefinition

__all__ = ["run_asset_as_flow"]


def run_asset_as_flow(defn: AssetDefinition, flow_name: str, partition: str | None = None) -> dict[str, Any]:
    """Materialize `defn` in a flow run named `flow_name`; returns row_count plus metadata."""
    from prefect import flow, get_run_logger
    from prefect.runtime import flow_run

    from assetgraph.warehouse import resolve_warehouse

    @flow(name=flow_name)
    def run(partition: str | None = None) -> dict[str, Any]:
        context = AssetContext(
            key=defn.key,
            run_id=str(flow_run.get_id() or "local"),
            warehouse=resolve_warehouse(),
            partition=partition,
            log=get_run_logger(),  # type: ignore[arg-type]
        )
        result = defn(context)
        assert result is not None, f"{defn.key} returned nothing"
        return {"row_count": result.row_count, **result.metadata}

    try:
        return run(partition)
    finally:
        drain_prefect_services()  # flush run events while a temporary API server is still up
