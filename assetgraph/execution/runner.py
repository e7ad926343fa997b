"""`materialize(project, selection, ...)`: selection -> plan -> one Prefect flow run."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from assetgraph import catalog
from assetgraph.definitions import AssetContext
from assetgraph.execution._dbt import DbtInvoker
from assetgraph.execution.outcomes import AssetStatus, RunReport, StepOutcome
from assetgraph.execution.plan import Plan, build_plan
from assetgraph.execution.steps import RunContext
from assetgraph.loader import Project
from assetgraph.selection import SelectionContext, select
from assetgraph.specs import AssetKind
from assetgraph.warehouse import Warehouse, resolve_warehouse

__all__ = ["materialize", "plan_selection", "check"]


def plan_selection(
    project: Project, selection: str, partitions: Sequence[str] = (), context: SelectionContext | None = None
) -> Plan:
    return build_plan(project.graph, select(selection, project.graph, context), partitions)


def _run_metadata(plan: Plan, full_refresh: bool, allow_failed_checks: Sequence[str], defer_state: Path | None) -> dict:
    """What `assetgraph retry` needs to run this again the same way (the runs row's metadata)."""
    return {
        "options": {
            "full_refresh": full_refresh,
            "allow_failed_checks": sorted(allow_failed_checks),
            "defer_state": str(defer_state) if defer_state is not None else None,
        },
        "steps": {
            "keys": [str(k) for k in plan.keys],
            "recheck": {s.id: list(s.recheck) for s in plan.steps if s.recheck},
        },
    }


def _remember_code_versions(project: Project) -> None:
    """Write the Python assets' code versions beside dbt's manifest, so this run's target folder
    is a complete `--state` for later runs (best effort: a read-only checkout still runs)."""
    from assetgraph.state import write_state_file

    try:
        write_state_file(project)
    except OSError as exc:
        logging.getLogger("assetgraph").warning("could not write the state file: %s", type(exc).__name__)


def _dry_run(ctx: RunContext, plan: Plan) -> list[StepOutcome]:
    out = []
    defs = ctx.project.definitions.asset_by_key()
    for step in plan.steps:
        spec = ctx.project.graph.spec(step.key)
        meta: Mapping[str, Any] = {}
        message = "would run dbt build" if spec.kind is AssetKind.DBT else "would materialize"
        if step.recheck:
            message = "would evaluate checks " + ", ".join(step.recheck)
        if step.key in defs and spec.metadata.get("supports_dry_run"):
            actx = AssetContext(
                key=step.key, run_id=ctx.run_id, warehouse=ctx.warehouse, partition=step.partition,
                dry_run=True, log=logging.getLogger(f"assetgraph.{step.key}"), options=ctx.options,
            )
            result = defs[step.key](actx)
            meta = dict(result.metadata) if result else {}
            message = "dry run"
        out.append(StepOutcome(step.key, step.partition, AssetStatus.DRY_RUN, message=message, metadata=meta))
    return out


def _has_dbt_steps(project: Project, plan: Plan) -> bool:
    return any(project.graph.spec(s.key).kind is AssetKind.DBT for s in plan.steps)


def _warm_imports(project: Project, plan: Plan) -> set[str]:
    return {m for s in plan.steps for c in project.graph.checks_for(s.key) for m in c.warm_imports}


def materialize(
    project: Project,
    selection: str,
    *,
    partitions: Sequence[str] = (),
    dry_run: bool = False,
    allow_failed_checks: Sequence[str] = (),
    warehouse: Warehouse | None = None,
    options: Mapping[str, Any] | None = None,
    max_workers: int = 4,
    full_refresh: bool = False,
    listener: Callable[[StepOutcome], None] | None = None,
    context: SelectionContext | None = None,
    defer_state: Path | None = None,
    plan: Plan | None = None,
    retry_of: str | None = None,
    before_flow: Callable[[], None] | None = None,
) -> RunReport:
    """`context`: what `state:`/`status:` terms need; `defer_state`: dbt's `--defer --state`;
    `plan` (with `retry_of`): run these steps instead of resolving `selection` (a retry);
    `before_flow`: called once the dbt worker has started and before Prefect is imported (the
    CLI sets its console logging up there, which imports Prefect)."""
    t0 = time.perf_counter()
    plan = plan if plan is not None else plan_selection(project, selection, partitions, context)
    wh = warehouse or resolve_warehouse()
    settings = project.settings
    dbt = None
    if project.dbt is not None and settings.dbt_project_dir is not None:
        dbt = DbtInvoker(settings.dbt_project_dir, settings.dbt_profiles_dir, settings.dbt_target, wh.dbt_env(),
                         full_refresh=full_refresh, defer_state=defer_state)
    ctx = RunContext(
        project=project,
        warehouse=wh,
        run_id=str(uuid.uuid4()),
        dry_run=dry_run,
        allow_failed_checks=frozenset(allow_failed_checks),
        dbt=dbt,
        options=dict(options or {}),
        listener=listener,
        retry_of=retry_of,
        run_metadata=_run_metadata(plan, full_refresh, allow_failed_checks, defer_state),
    )
    unknown = [c for c in allow_failed_checks if not any(str(k) == c for k in project.graph.checks)]
    if unknown:
        from assetgraph.errors import AssetGraphError

        raise AssetGraphError(f"--allow-failed-checks names unknown check(s): {', '.join(unknown)}")
    if (dry_run or not plan.steps) and before_flow is not None:
        before_flow()
    if dry_run:
        outcomes = _dry_run(ctx, plan)
    elif not plan.steps:
        outcomes = []  # e.g. `state:modified+` with nothing modified: nothing to run, no run
    else:
        try:
            if dbt is not None and _has_dbt_steps(project, plan):
                dbt.start()  # dbt imports and parses in its worker while this process starts Prefect
            if before_flow is not None:
                before_flow()
            _remember_code_versions(project)
            from assetgraph.execution._prefect import preload_prefect, run_flow
            from assetgraph.execution._warm import warm_up

            preload_prefect()
            warm_up(_warm_imports(project, plan))
            catalog.ensure_catalog(wh)
            catalog.mark_crashed_runs(wh)  # what a killed run left `running` is recorded as crashed
            outcomes = run_flow(ctx, plan, selection, max_workers=max_workers)
        finally:
            if dbt is not None:
                dbt.close()
    return RunReport(
        run_id=ctx.run_id,
        selection=selection,
        outcomes=tuple(outcomes),
        seconds=time.perf_counter() - t0,
        dry_run=dry_run,
    )


def check(
    project: Project,
    selection: str,
    *,
    warehouse: Warehouse | None = None,
    allow_failed_checks: Sequence[str] = (),
) -> RunReport:
    """Evaluate the checks of the selected assets against what is in the warehouse now,
    without materializing anything. Results go to the catalog like any other."""
    from assetgraph.execution.steps import evaluate_checks

    t0 = time.perf_counter()
    keys = select(selection, project.graph)
    wh = warehouse or resolve_warehouse()
    settings = project.settings
    dbt = None
    if project.dbt is not None and settings.dbt_project_dir is not None:
        dbt = DbtInvoker(settings.dbt_project_dir, settings.dbt_profiles_dir, settings.dbt_target, wh.dbt_env())
    ctx = RunContext(
        project=project, warehouse=wh, run_id="check-" + str(uuid.uuid4()), dbt=dbt,
        allow_failed_checks=frozenset(allow_failed_checks),
    )
    catalog.ensure_catalog(wh)
    catalog.record_run_start(wh, ctx.run_id, f"check {selection}", (), "cli")
    try:
        outcomes = [evaluate_checks(ctx, key) for key in keys if project.graph.checks_for(key)]
    finally:
        if dbt is not None:
            dbt.close()
    report = RunReport(ctx.run_id, selection, tuple(outcomes), time.perf_counter() - t0)
    catalog.record_run_end(wh, ctx.run_id, "success" if report.succeeded else "failed")
    return report
