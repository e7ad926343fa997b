"""The work of one step, free of Prefect: materialize an asset (Python function or dbt node),
evaluate its checks, apply operator overrides, and write the catalog rows."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from assetgraph import catalog
from assetgraph.errors import AssetGraphError
from assetgraph.definitions import AssetContext
from assetgraph.execution._dbt import DbtInvoker, DbtRunResult
from assetgraph.execution.outcomes import AssetStatus, CheckOutcome, StepOutcome
from assetgraph.execution.plan import Step, joinable_below
from assetgraph.keys import AssetKey, CheckKey
from assetgraph.loader import Project
from assetgraph.specs import AssetKind, CheckResult, CheckStatus, MaterializeResult
from assetgraph.warehouse import Warehouse

__all__ = [
    "RunContext", "AssetFailed", "announce_wave", "materialize_step", "recheck_step", "skip_step", "failed_step",
    "record", "evaluate_checks", "passed_in_dbt",
]

log = logging.getLogger("assetgraph")

_DBT_SOURCES = ("dbt", "dbt_unit_test")
_DBT_FAILED_TEST = {"fail": CheckStatus.FAILED, "error": CheckStatus.ERROR, "warn": CheckStatus.FAILED}


class AssetFailed(AssetGraphError):
    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


@dataclass
class RunContext:
    project: Project
    warehouse: Warehouse
    run_id: str
    dry_run: bool = False
    allow_failed_checks: frozenset[str] = frozenset()
    dbt: DbtInvoker | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    listener: Callable[[StepOutcome], None] | None = None
    retry_of: str | None = None  # the run this one retries (`assetgraph retry`)
    run_metadata: dict[str, Any] = field(default_factory=dict)  # the runs row's metadata (options, steps)


def _check_outcome(ctx: RunContext, key: CheckKey, result: CheckResult, quiet: bool = False) -> CheckOutcome:
    """`quiet`: a look ahead at an outcome its step reports (and logs) later."""
    spec = ctx.project.graph.checks[key]
    if result.status in (CheckStatus.FAILED, CheckStatus.ERROR) and str(key) in ctx.allow_failed_checks:
        if not quiet:
            log.warning("check %s %s but is allowed by --allow-failed-checks", key, result.status.value)
        result = CheckResult(
            CheckStatus.OVERRIDDEN,
            f"operator override (--allow-failed-checks); was {result.status.value}: {result.message}",
            {**result.metadata, "overridden_status": result.status.value},
        )
    return CheckOutcome(key=key, blocking=spec.blocking, source=spec.source, result=result)


def _dbt_test_outcomes(ctx: RunContext, run: DbtRunResult, asset: AssetKey, quiet: bool = False) -> list[CheckOutcome]:
    """Outcomes of the dbt tests in `run` that are checks of `asset` (others are ignored)."""
    assert ctx.project.dbt is not None
    by_uid = {uid: ck for ck, uid in ctx.project.dbt.node_for_check.items()}
    spec = ctx.project.graph.spec(asset)
    validated = spec.metadata.get("relation") or str(asset)
    if run.command == "build" and spec.metadata.get("built_at_column"):  # see macros/build_scope.sql
        validated = f"{validated}, the rows this build wrote"
    out = []
    for node in run.tests:
        ck = by_uid.get(node.unique_id)
        if ck is None or ck.asset != asset or ck not in ctx.project.graph.checks:
            continue
        status = _DBT_FAILED_TEST.get(node.status, CheckStatus.PASSED)
        if node.status == "skipped":
            status = CheckStatus.SKIPPED
        meta = {"dbt_status": node.status, "failures": node.failures, "dbt_unique_id": node.unique_id,
                "validated": validated}
        result = CheckResult(status, node.message if status != CheckStatus.PASSED else "", meta)
        out.append(_check_outcome(ctx, ck, result, quiet))
    return out


def _related(ctx: RunContext, key: AssetKey) -> set[str]:
    """dbt unique ids of the asset's node and of its tests (a wave's run also holds others')."""
    dbt = ctx.project.dbt
    assert dbt is not None
    ids = {uid for ck, uid in dbt.node_for_check.items() if ck.asset == key}
    return ids | {ctx.project.graph.spec(key).metadata["dbt_unique_id"]}


def _why_dbt_skipped(run: DbtRunResult, related: set[str]) -> str:
    """The nodes that errored or failed before a skipped node: the asset's own (`related`)
    when any did, else every one in the run."""
    bad = [n for n in run.nodes if n.status in ("error", "fail")]
    bad = [n for n in bad if n.unique_id in related] or bad
    if not bad:
        return "dbt gave no reason"
    return "after " + "; ".join(f"{n.unique_id} {n.status}: {n.message.strip()[:200]}" for n in bad[:3])


def _dbt_selector(ctx: RunContext, key: AssetKey) -> str:
    return f"path:{ctx.project.graph.spec(key).metadata['path']}"


def _dbt_buildable(ctx: RunContext, step: Step) -> bool:
    return ctx.project.graph.spec(step.key).kind is AssetKind.DBT and not step.recheck and step.partition is None


def _gated_by_dbt_only(ctx: RunContext, step: Step) -> bool:
    """Every check of the asset is a dbt test, so dbt's build enforces its gate by itself."""
    return all(c.source in _DBT_SOURCES for c in ctx.project.graph.checks_for(step.key))


def announce_wave(
    ctx: RunContext,
    steps: list[Step],
    pending: Sequence[Step] = (),
    finished_ok: Callable[[str], bool] = lambda _id: False,
    held: Callable[[Step], bool] = lambda _step: False,
    running: Sequence[Step] = (),
) -> None:
    """Tell the dbt invoker which dbt steps start together, so one dbt invocation builds them
    all (see `_dbt`): the ready ones (with the `running` ones announced earlier whose
    invocation has not started: the same invocation builds them), and the pending dbt steps
    below them whose every gate on the way is a dbt test (dbt's build skips what a failed node
    or test blocks). A step below a Python step, or below an asset with a GX or Python check,
    waits for its own wave; so does one the orchestrator `held` (an unselected parent's
    failing check)."""
    if ctx.dbt is None:
        return
    ready = [s for s in steps if _dbt_buildable(ctx, s)]
    if not ready:
        return
    pending, running = tuple(pending), tuple(running)  # the batch may be planned again from a step's thread
    selector = {s.id: _dbt_selector(ctx, s.key) for s in [*steps, *pending, *running] if _dbt_buildable(ctx, s)}
    in_dbt = {s.id: s for s in running if s.id in selector}

    def through(step_id: str) -> bool:
        step = in_dbt.get(step_id)
        return finished_ok(step_id) or (step is not None and passed_in_dbt(ctx, step))

    def batch(waiting: frozenset[str]) -> list[str]:
        together = ready + [s for s in running if selector.get(s.id) in waiting]
        together += joinable_below(
            pending, together, joins=lambda s: _dbt_buildable(ctx, s) and not held(s),
            passes_on=lambda s: _gated_by_dbt_only(ctx, s), finished_ok=through,
        )
        return [selector[s.id] for s in together]

    ctx.dbt.expect(batch)


def passed_in_dbt(ctx: RunContext, step: Step) -> bool:
    """The dbt step's node succeeded, and none of its blocking dbt tests failed, in an
    invocation that has ended: what its step will report (it has no other gate). Lets a node
    below it join a batch, and the step below it start, before the orchestrator has seen that
    step finish."""
    if (ctx.dbt is None or ctx.project.dbt is None or not _dbt_buildable(ctx, step)
            or not _gated_by_dbt_only(ctx, step)):
        return False
    run = ctx.dbt.latest.get(_dbt_selector(ctx, step.key))
    node = run.node(ctx.project.graph.spec(step.key).metadata["dbt_unique_id"]) if run is not None else None
    if node is None or node.status != "success":
        return False
    return not any(t.blocks for t in _dbt_test_outcomes(ctx, run, step.key, quiet=True))  # as its step will see them


def _run_dbt_asset(ctx: RunContext, step: Step) -> tuple[MaterializeResult, list[CheckOutcome]]:
    spec = ctx.project.graph.spec(step.key)
    if ctx.dbt is None:
        raise AssetFailed(str(step.key), "no dbt project configured")
    selector = _dbt_selector(ctx, step.key)
    run = ctx.dbt.build(selector)
    node = run.node(spec.metadata["dbt_unique_id"])
    tests = _dbt_test_outcomes(ctx, run, step.key)
    own_failed = any(t.blocks for t in tests)
    if node is not None and node.status == "skipped" and len(run.selected) > 1 and not own_failed:
        # The batch's dbt skipped it after an upstream failure; this step runs only once its
        # upstream steps are through (a retry succeeded, or an operator allowed the check).
        run = ctx.dbt.build_many([selector])
        node = run.node(spec.metadata["dbt_unique_id"])
        tests = _dbt_test_outcomes(ctx, run, step.key)
    if node is None:
        failed_units = [t for t in tests if t.source == "dbt_unit_test" and t.blocks]
        if failed_units:
            return MaterializeResult(metadata={"dbt_status": "skipped"}), tests
        raise AssetFailed(str(step.key), run.error or "dbt did not run the node")
    if node.status not in ("success", "pass"):
        reason = node.message.strip() or run.error or _why_dbt_skipped(run, _related(ctx, step.key))
        raise AssetFailed(str(step.key), f"dbt {node.status}: {reason}")
    meta = {"dbt_status": node.status, "dbt_seconds": round(node.seconds, 3), "rows_affected": node.rows_affected,
            "dbt_invocation": run.invocation, "dbt_nodes_in_invocation": len(run.selected)}
    if ctx.dbt.full_refresh:
        meta["dbt_full_refresh"] = True
    return MaterializeResult(row_count=node.rows_affected, metadata=meta), tests


def _run_python_checks(
    ctx: RunContext, step: Step, actx: AssetContext, names: tuple[str, ...] | None = None
) -> list[CheckOutcome]:
    out = []
    for check in ctx.project.definitions.checks:
        if check.spec.asset != step.key or (names is not None and check.key.name not in names):
            continue
        try:
            result = check.fn(actx)
            if not isinstance(result, CheckResult):
                result = CheckResult.errored(f"check returned {type(result).__name__}, not CheckResult")
        except Exception as exc:  # a check that cannot run is an error, never a pass
            result = CheckResult.errored(f"{type(exc).__name__}: {exc}")
        out.append(_check_outcome(ctx, check.key, result))
    return out


def _run_dbt_checks_on_python_asset(ctx: RunContext, step: Step) -> list[CheckOutcome]:
    """dbt tests on a source that a Python asset lands (e.g. tests on `source('raw','signups')`)."""
    dbt = ctx.project.dbt
    if dbt is None or ctx.dbt is None:
        return []
    names = [ck.name for ck in dbt.node_for_check if ck.asset == step.key]
    if not names:
        return []
    return _dbt_test_outcomes(ctx, ctx.dbt.test(names), step.key)


def materialize_step(ctx: RunContext, step: Step) -> StepOutcome:
    """Materialize one step and evaluate its checks. Raises on failure (so retries apply)."""
    started = catalog.utcnow()
    t0 = time.perf_counter()
    ctx.attempts[step.id] = ctx.attempts.get(step.id, 0) + 1
    graph = ctx.project.graph
    spec = graph.spec(step.key)
    actx = AssetContext(
        key=step.key,
        run_id=ctx.run_id,
        warehouse=ctx.warehouse,
        partition=step.partition,
        dry_run=ctx.dry_run,
        log=logging.getLogger(f"assetgraph.{step.key}"),
        options=ctx.options,
    )
    if spec.kind is AssetKind.DBT:
        result, checks = _run_dbt_asset(ctx, step)
        checks += _run_python_checks(ctx, step, replace(actx, materialization=result))
    else:
        defn = ctx.project.definitions.asset_by_key()[step.key]
        result = defn(actx) or MaterializeResult()
        # its dbt tests run in the dbt worker while its Python and GX checks run here
        with ThreadPoolExecutor(1, thread_name_prefix="assetgraph-dbt-tests") as pool:
            dbt_checks = pool.submit(_run_dbt_checks_on_python_asset, ctx, step)
            python_checks = _run_python_checks(ctx, step, replace(actx, materialization=result))
            checks = dbt_checks.result() + python_checks
    for name, res in (result.check_results or {}).items():
        ck = CheckKey(step.key, name)
        if ck in graph.checks:
            checks.append(_check_outcome(ctx, ck, res))
    outcome = StepOutcome(
        key=step.key,
        partition=step.partition,
        status=AssetStatus.SUCCESS,
        seconds=time.perf_counter() - t0,
        row_count=result.row_count,
        attempts=ctx.attempts[step.id],
        checks=tuple(checks),
        metadata=dict(result.metadata or {}),
    )
    record(ctx, outcome, started)
    return outcome


def recheck_step(ctx: RunContext, step: Step) -> StepOutcome:
    """Evaluate only `step.recheck` (checks of an asset materialized by an earlier run) against
    the data as it is now: dbt tests via `dbt test`, Python and GX checks by their functions.
    Writes check rows only: the asset was not materialized again."""
    t0 = time.perf_counter()
    ctx.attempts[step.id] = ctx.attempts.get(step.id, 0) + 1
    names = tuple(step.recheck)
    actx = AssetContext(
        key=step.key, run_id=ctx.run_id, warehouse=ctx.warehouse, partition=step.partition,
        log=logging.getLogger(f"assetgraph.{step.key}"), options=ctx.options,
    )
    checks: list[CheckOutcome] = []
    dbt = ctx.project.dbt
    if dbt is not None and ctx.dbt is not None:
        tests = [ck.name for ck in dbt.node_for_check if ck.asset == step.key and ck.name in names]
        if tests:
            checks += _dbt_test_outcomes(ctx, ctx.dbt.test(tests), step.key)
    checks += _run_python_checks(ctx, step, actx, names)
    outcome = StepOutcome(
        key=step.key, partition=step.partition, status=AssetStatus.SUCCESS, seconds=time.perf_counter() - t0,
        attempts=ctx.attempts[step.id], checks=tuple(checks), metadata={"rechecked": list(names)},
    )
    if not ctx.dry_run:
        _record_checks(ctx, outcome)
    return outcome


def skip_step(ctx: RunContext, step: Step, reason: str) -> StepOutcome:
    outcome = StepOutcome(key=step.key, partition=step.partition, status=AssetStatus.SKIPPED, message=reason)
    record(ctx, outcome, None)
    return outcome


def failed_step(ctx: RunContext, step: Step, error: BaseException, seconds: float) -> StepOutcome:
    from assetgraph.execution.failures import failure_message, is_transient

    outcome = StepOutcome(
        key=step.key,
        partition=step.partition,
        status=AssetStatus.FAILED,
        seconds=seconds,
        message=failure_message(error)[:2000],
        attempts=ctx.attempts.get(step.id, 0),
        metadata={"error_type": type(error).__name__, "transient": is_transient(error)},
    )
    record(ctx, outcome, None)
    return outcome


def record(ctx: RunContext, outcome: StepOutcome, started) -> None:  # type: ignore[no-untyped-def]
    if ctx.dry_run:
        return
    spec = ctx.project.graph.spec(outcome.key)
    finished = catalog.utcnow()
    catalog.record_materialization(
        ctx.warehouse,
        run_id=ctx.run_id,
        asset_key=str(outcome.key),
        partition_key=outcome.partition,
        status=outcome.status.value,
        started_at=started,
        finished_at=finished,
        row_count=outcome.row_count,
        code_version=spec.code_version,
        attempts=outcome.attempts,
        message=outcome.message,
        metadata=outcome.metadata,
    )
    _record_checks(ctx, outcome)


def _record_checks(ctx: RunContext, outcome: StepOutcome) -> None:
    for c in outcome.checks:
        catalog.record_check(
            ctx.warehouse,
            run_id=ctx.run_id,
            asset_key=str(c.key.asset),
            check_name=c.key.name,
            partition_key=outcome.partition,
            source=c.source,
            blocking=c.blocking,
            status=c.result.status.value,
            message=c.result.message,
            metadata=c.result.metadata,
        )
    if outcome.status is AssetStatus.SKIPPED:
        # checks of a skipped asset are recorded as skipped, so "did it pass" has an answer
        for check in ctx.project.graph.checks_for(outcome.key):
            catalog.record_check(
                ctx.warehouse,
                run_id=ctx.run_id,
                asset_key=str(outcome.key),
                check_name=check.key.name,
                partition_key=outcome.partition,
                source=check.source,
                blocking=check.blocking,
                status=CheckStatus.SKIPPED.value,
                message=outcome.message,
            )


def evaluate_checks(ctx: RunContext, key) -> StepOutcome:  # type: ignore[no-untyped-def]
    """Checks only (the `check` command): dbt tests via `dbt test`, then Python checks."""
    t0 = time.perf_counter()
    actx = AssetContext(key=key, run_id=ctx.run_id, warehouse=ctx.warehouse, log=logging.getLogger(f"assetgraph.{key}"))
    checks: list[CheckOutcome] = []
    dbt = ctx.project.dbt
    if dbt is not None and ctx.dbt is not None:
        names = [ck.name for ck in dbt.node_for_check if ck.asset == key]
        if names:
            checks += _dbt_test_outcomes(ctx, ctx.dbt.test(names), key)
    step = Step(key=key, partition=None, upstream=())
    checks += _run_python_checks(ctx, step, actx)
    outcome = StepOutcome(key=key, partition=None, status=AssetStatus.SUCCESS, seconds=time.perf_counter() - t0, checks=tuple(checks))
    for c in outcome.checks:
        catalog.record_check(
            ctx.warehouse, run_id=ctx.run_id, asset_key=str(key), check_name=c.key.name,
            partition_key=None, source=c.source, blocking=c.blocking, status=c.result.status.value,
            message=c.result.message, metadata=c.result.metadata,
        )
    return outcome
