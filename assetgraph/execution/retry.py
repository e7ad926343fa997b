"""`assetgraph retry`: run again only what a recorded run did not finish.

From the run's catalog rows (pure planning in `plan_retry`, I/O in `load_retry`):
- a step that failed, was skipped, or has no row (the run died first) is materialized again;
  a dbt step that way is one node passed to dbt, so dbt builds exactly the failed and skipped
  nodes (in waves, as any run), never a node that succeeded;
- a step that materialized but whose blocking check failed has only those checks evaluated
  again (the data was fixed since): its downstream then runs, nothing above it does (a failed
  dbt unit test, which stopped the build, or a check only the asset's function returns, runs
  the asset again instead);
- a step that succeeded, but whose code version (a dbt node's checksum, a Python asset's code
  version) differs from the one the run recorded, runs too, and is reported as changed;
- the retry runs with the same partitions, `--full-refresh`, `--allow-failed-checks` and
  `--defer --state` as the run, and is recorded with `retry_of` pointing at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from assetgraph import catalog
from assetgraph.catalog import CheckRow, RunRecord, StepRow
from assetgraph.errors import RetryError
from assetgraph.execution.outcomes import RunReport, StepOutcome
from assetgraph.execution.plan import Plan, build_plan, restrict_plan, step_id
from assetgraph.keys import AssetKey, CheckKey
from assetgraph.loader import Project
from assetgraph.warehouse import Warehouse

__all__ = ["RetryItem", "RetryPlan", "plan_retry", "load_retry", "retry"]

_BAD_CHECK = ("failed", "error")


@dataclass(frozen=True)
class RetryItem:
    step_id: str
    key: AssetKey
    partition: str | None
    reason: str  # failed | skipped | not run | check failed | code changed
    recheck: tuple[str, ...] = ()  # checks only (see module docstring)
    code_changed: str = ""  # "old -> new" when the code version changed since the run


@dataclass(frozen=True)
class RetryPlan:
    run: RunRecord
    items: tuple[RetryItem, ...]
    plan: Plan
    dropped: tuple[str, ...] = ()  # assets of the run that are no longer in the graph
    allow_failed_checks: tuple[str, ...] = ()
    full_refresh: bool = False
    defer_state: str | None = None

    @property
    def changed(self) -> tuple[RetryItem, ...]:
        return tuple(i for i in self.items if i.code_changed)


def _reevaluable(project: Project, check: CheckKey) -> bool:
    """Whether a check can run without its asset materializing (dbt test or check function)."""
    if project.dbt is not None and check in project.dbt.node_for_check:
        return True
    return any(c.key == check for c in project.definitions.checks)


def plan_retry(project: Project, run: RunRecord, steps: Sequence[StepRow], checks: Sequence[CheckRow]) -> RetryPlan:
    graph = project.graph
    meta_steps = run.metadata.get("steps") or {}
    planned_keys = list(meta_steps.get("keys") or dict.fromkeys(r.asset_key for r in steps))
    was_recheck: dict[str, list[str]] = dict(meta_steps.get("recheck") or {})
    rows = {(r.asset_key, r.partition_key): r for r in steps}
    bad_checks: dict[tuple[str, str | None], list[CheckRow]] = {}
    checked: set[tuple[str, str | None]] = set()
    for c in checks:
        checked.add((c.asset_key, c.partition_key))
        if c.blocking and c.status in _BAD_CHECK:
            bad_checks.setdefault((c.asset_key, c.partition_key), []).append(c)

    items: list[RetryItem] = []
    dropped: list[str] = []
    for name in planned_keys:
        key = AssetKey.from_user_string(name)
        if key not in graph or not graph.materializable(key):
            dropped.append(name)
            continue
        spec = graph.spec(key)
        parts: list[str | None] = list(run.partitions) if (run.partitions and spec.partitions) else [None]
        for part in parts:
            sid = step_id(key, part)
            row = rows.get((name, part))
            failing = tuple(sorted(c.check_name for c in bad_checks.get((name, part), ())))
            if row is None and sid in was_recheck:  # a checks-only step of an earlier retry
                if failing or (name, part) not in checked:
                    items.append(RetryItem(sid, key, part, "check failed" if failing else "not run",
                                           failing or tuple(was_recheck[sid])))
                continue
            if row is None:
                items.append(RetryItem(sid, key, part, "not run"))
                continue
            changed = ""
            if row.code_version and spec.code_version and row.code_version != spec.code_version:
                changed = f"{row.code_version} -> {spec.code_version}"
            if row.status in ("failed", "skipped"):
                items.append(RetryItem(sid, key, part, row.status, code_changed=changed))
            elif changed:
                items.append(RetryItem(sid, key, part, "code changed", code_changed=changed))
            elif failing:
                # a dbt unit test that failed stopped the build itself; a check the asset's
                # function returns is evaluated only by materializing: both rebuild the asset
                unit = any(c.source == "dbt_unit_test" for c in bad_checks[(name, part)])
                if not unit and all(_reevaluable(project, CheckKey(key, n)) for n in failing):
                    items.append(RetryItem(sid, key, part, "check failed", failing))
                else:
                    items.append(RetryItem(sid, key, part, "check failed"))

    options = run.metadata.get("options") or {}
    allowed = tuple(c for c in options.get("allow_failed_checks") or () if any(str(k) == c for k in graph.checks))
    wanted = {i.step_id: i.recheck for i in items}
    parts_needed = sorted({i.partition for i in items if i.partition})
    full = build_plan(graph, list(dict.fromkeys(i.key for i in items)), parts_needed) if items else Plan((), ())
    plan = restrict_plan(full, wanted)
    order = {s.id: n for n, s in enumerate(plan.steps)}
    return RetryPlan(
        run=run, items=tuple(sorted(items, key=lambda i: order.get(i.step_id, 0))), plan=plan,
        dropped=tuple(dropped), allow_failed_checks=allowed, full_refresh=bool(options.get("full_refresh")),
        defer_state=options.get("defer_state"),
    )


def load_retry(project: Project, wh: Warehouse, run_id: str | None = None) -> RetryPlan:
    """Find the run (default: the latest failed one) and plan its retry. Raises `RetryError`."""
    if run_id:
        run = catalog.read_run(wh, run_id)
        if run is None:
            raise RetryError(f"no run {run_id!r} in the catalog ({catalog.SCHEMA}.runs); see `assetgraph status`")
    else:
        catalog.mark_crashed_runs(wh)  # a run whose process was killed is retried like a failed one
        run = catalog.latest_failed_run(wh)
        if run is None:
            raise RetryError(f"no failed run in the catalog ({catalog.SCHEMA}.runs) to retry")
    if run.run_id.startswith("check-"):
        raise RetryError(f"run {run.run_id!r} is a `check` run; run `assetgraph check` again instead")
    steps, checks = catalog.run_steps(wh, run.run_id)
    return plan_retry(project, run, steps, checks)


def retry(
    project: Project,
    retry_plan: RetryPlan,
    *,
    warehouse: Warehouse,
    dry_run: bool = False,
    listener: Callable[[StepOutcome], None] | None = None,
    options: dict[str, Any] | None = None,
) -> RunReport:
    """Run the plan as a new run recorded with `retry_of`."""
    from assetgraph.execution.runner import materialize

    defer = retry_plan.defer_state
    if defer is not None and not Path(defer).is_dir():
        raise RetryError(f"run {retry_plan.run.run_id} deferred to --state {defer}, which no longer exists")
    return materialize(
        project, retry_plan.run.selection, plan=retry_plan.plan, retry_of=retry_plan.run.run_id,
        partitions=retry_plan.plan.partitions, dry_run=dry_run, warehouse=warehouse,
        allow_failed_checks=retry_plan.allow_failed_checks, full_refresh=retry_plan.full_refresh,
        defer_state=Path(defer) if defer else None, listener=listener,
        options={"trigger": "retry", **(options or {})},
    )
