"""The Prefect side of a run, kept thin: one flow run per selection, one task per step.

Steps are submitted as soon as their upstream steps have finished (independent assets run in
parallel on a thread pool); a step whose upstream failed or was blocked by a check is not run,
and gets a task run in a `Skipped` state so the Prefect UI shows the same story as the
catalog. Each materializing task emits Prefect's native asset events (`prefect.assets`).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from assetgraph import catalog
from assetgraph.execution.failures import retry_condition
from assetgraph.execution.outcomes import AssetStatus, StepOutcome
from assetgraph.execution.plan import Plan, Step
from assetgraph.execution.steps import (
    RunContext,
    announce_wave,
    failed_step,
    materialize_step,
    passed_in_dbt,
    recheck_step,
    skip_step,
)
from assetgraph.keys import AssetKey
from assetgraph.specs import AssetKind

__all__ = ["run_flow", "asset_uri", "preload_prefect"]


def asset_uri(key: AssetKey) -> str:
    """Prefect asset keys must be URIs; ours are target-independent, so is the URI."""
    return "assetgraph://" + key.to_user_string()


def _skip_reason(step: Step, done: dict[str, StepOutcome]) -> str | None:
    """Why `step` must not run, from its finished upstream steps (one not finished yet passed
    in dbt: see `orchestrate`)."""
    for up in step.upstream:
        o = done.get(up)
        if o is None:
            continue
        if o.status is AssetStatus.FAILED:
            return f"upstream {up} failed"
        if o.status is AssetStatus.SKIPPED:
            return f"upstream {up} was skipped"
        if o.blocked_by:
            return "blocked by failed check " + ", ".join(str(c) for c in o.blocked_by)
    return None


def _outside_gate(graph: Any, step: Step, gate: dict[str, list[str]]) -> str | None:
    failing = [f"{p}:{c}" for p in sorted(graph.parents(step.key)) for c in gate.get(str(p), [])]
    if failing:
        return "blocked by the last recorded result of upstream check " + ", ".join(failing)
    return None


def _summary_markdown(outcomes: list[StepOutcome]) -> str:
    lines = ["| asset | partition | status | rows | seconds | checks |", "|---|---|---|---|---|---|"]
    for o in outcomes:
        checks = ", ".join(f"{c.key.name}: {c.result.status.value}" for c in o.checks) or "-"
        lines.append(
            f"| {o.key} | {o.partition or '-'} | {o.status.value} | "
            f"{'' if o.row_count is None else o.row_count} | {o.seconds:.1f} | {checks} |"
        )
    return "\n".join(lines)


class _Done(dict):
    """Finished steps by id; tells the listener (the CLI's live lines) about each one."""

    def __init__(self, listener: Callable[[StepOutcome], None] | None) -> None:
        super().__init__()
        self._listener = listener

    def __setitem__(self, key: str, value: StepOutcome) -> None:
        super().__setitem__(key, value)
        if self._listener is not None:
            self._listener(value)


def preload_prefect() -> None:
    """Import what `run_flow` uses now, before `_warm` starts importing on another thread, so
    two threads never import the same packages at once (Python's per-module import locks can
    deadlock on a circular import taken in opposite orders)."""
    import importlib

    for name in ("prefect", "prefect.flow_engine", "prefect.task_engine", "prefect.artifacts", "prefect.assets",
                 "prefect.cache_policies", "prefect.futures", "prefect.runtime", "prefect.task_runners"):
        importlib.import_module(name)


def run_flow(ctx: RunContext, plan: Plan, selection: str, max_workers: int = 4) -> list[StepOutcome]:
    from prefect import flow, task
    from prefect.artifacts import create_markdown_artifact
    from prefect.assets import Asset, AssetProperties
    from prefect.context import FlowRunContext
    from prefect.cache_policies import NO_CACHE
    from prefect.futures import as_completed
    from prefect.runtime import flow_run
    from prefect.states import Completed, Failed
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect.tasks import MaterializingTask

    graph = ctx.project.graph
    retry_delay = float(ctx.options.get("retry_delay_seconds", 5))

    def make_task(step: Step) -> Any:
        spec = graph.spec(step.key)
        if step.recheck:  # checks only: no materialization, so no asset event either

            def recheck() -> StepOutcome:
                return recheck_step(ctx, step)

            recheck.__name__ = "recheck_" + "_".join(step.key.parts)
            return task(
                recheck, name=f"{step.key} (checks)", task_run_name=f"{step.id} (checks)",
                cache_policy=NO_CACHE, persist_result=False,
            )

        def run_step() -> StepOutcome:
            return materialize_step(ctx, step)

        run_step.__name__ = "materialize_" + "_".join(step.key.parts)
        return MaterializingTask(
            fn=run_step,
            assets=[
                Asset(
                    key=asset_uri(step.key),
                    properties=AssetProperties(
                        name=str(step.key),
                        description=(spec.description or None) and spec.description[:2000],
                        owners=list(spec.owners) or None,
                    ),
                )
            ],
            materialized_by="dbt" if spec.kind is AssetKind.DBT else None,
            asset_deps=[asset_uri(p) for p in sorted(graph.parents(step.key))],
            name=str(step.key),
            task_run_name=step.id,
            retries=spec.retries,
            retry_delay_seconds=retry_delay,
            retry_condition_fn=retry_condition,  # transient failures only (see failures.py)
            cache_policy=NO_CACHE,
            persist_result=False,
        )

    @task(name="skipped", cache_policy=NO_CACHE, persist_result=False)
    def mark_skipped(step_name: str, reason: str) -> Any:
        return Completed(name="Skipped", message=f"{step_name}: {reason}")

    in_plan = {s.key for s in plan.steps}
    outside = sorted({str(p) for s in plan.steps for p in graph.parents(s.key) if p not in in_plan})

    def orchestrate(selection: str, partitions: list[str]) -> tuple[list[StepOutcome], bool, str]:
        ctx.run_id = str(flow_run.id or ctx.run_id)
        catalog.record_run_start(
            ctx.warehouse, ctx.run_id, selection, partitions, ctx.options.get("trigger", "cli"),
            retry_of=ctx.retry_of, metadata=ctx.run_metadata,
        )
        # Upstream assets outside the selection: their last recorded blocking checks still gate.
        gate = {
            k: [c for c in names if f"{k}:{c}" not in ctx.allow_failed_checks]
            for k, names in catalog.failing_blocking_checks(ctx.warehouse, outside).items()
        }
        done = _Done(ctx.listener)
        pending = list(plan.steps)
        running: dict[Any, tuple[Step, float]] = {}
        by_id = {s.id: s for s in plan.steps}
        passed: set[str] = set()

        def through(up: str) -> bool:
            # finished, or a dbt step whose node and blocking dbt tests passed in a batch that
            # has ended (it has no other gate): a step below it need not wait for its task,
            # which only records what the batch did (a hop of ~0.1 s per level)
            if up in done or up in passed:
                return True
            if passed_in_dbt(ctx, by_id[up]):
                passed.add(up)
                return True
            return False

        while pending or running:
            wave = []
            for step in [s for s in pending if all(through(u) for u in s.upstream)]:
                pending.remove(step)
                reason = _skip_reason(step, done) or _outside_gate(graph, step, gate)
                if reason:
                    done[step.id] = skip_step(ctx, step, reason)
                    mark_skipped.with_options(task_run_name=f"{step.id} (skipped)").submit(step.id, reason)
                    continue
                wave.append(step)
            announce_wave(ctx, wave, pending, lambda sid: sid in done and done[sid].ok_for_downstream,
                          lambda s: _outside_gate(graph, s, gate) is not None, [s for s, _ in running.values()])
            for step in wave:
                running[make_task(step).submit()] = (step, time.perf_counter())
            if not running:
                continue
            first = next(as_completed(list(running)))
            # every step that has finished by now, so the next wave holds all that became ready
            # (one dbt invocation for them, see announce_wave), not one finished step's worth
            finished = [first] + [f for f in running if f is not first and f.wrapped_future.done()]
            for future in finished:
                step, t0 = running.pop(future)
                result = future.result(raise_on_failure=False)
                if isinstance(result, StepOutcome):
                    done[step.id] = result
                else:
                    error = result if isinstance(result, BaseException) else RuntimeError(str(result))
                    done[step.id] = failed_step(ctx, step, error, time.perf_counter() - t0)
        outcomes = [done[s.id] for s in plan.steps]
        ok = all(o.ok_for_downstream for o in outcomes)
        failed = [str(o.key) for o in outcomes if not o.ok_for_downstream]
        message = "" if ok else "not ok: " + ", ".join(failed)
        blocked = [str(c.key) for o in outcomes for c in o.checks if c.blocks]
        if blocked:
            message += "; failed blocking checks: " + ", ".join(blocked)
        end_metadata = {**ctx.run_metadata, "dbt_invocations": ctx.dbt.summary()} if ctx.dbt is not None else None
        catalog.record_run_end(ctx.warehouse, ctx.run_id, "success" if ok else "failed", message, end_metadata)
        create_markdown_artifact(
            key="assetgraph-run-summary", markdown=_summary_markdown(outcomes),
            description=f"assetgraph materialize {selection}",
            _sync=True,  # this thread is the async flow's worker thread (below): block, don't return a coroutine
        )
        return outcomes, ok, message

    if FlowRunContext.get() is not None:
        # Already inside a flow run (a deployment of `materialize_flow`): run the steps as its
        # tasks rather than starting a nested flow run.
        outcomes, _, _ = orchestrate(selection, list(plan.partitions))
        return outcomes

    @flow(
        name="assetgraph-materialize",
        task_runner=ThreadPoolTaskRunner(max_workers=max_workers),
        validate_parameters=False,
        persist_result=False,
    )
    async def materialize_assets(selection: str, partitions: list[str]) -> Any:
        # An async flow whose body runs in a thread: Prefect's sync flow engine ends a run by
        # joining its heartbeat thread, which sleeps in whole seconds (py-spy: 0.8 s of every
        # `materialize`, after the flow run was already final); the async engine does not join.
        # The orchestration itself is the same blocking code, with the flow run's context.
        outcomes, ok, message = await asyncio.to_thread(orchestrate, selection, partitions)
        collected.extend(outcomes)
        return Completed(message="all assets materialized") if ok else Failed(message=message)

    collected: list[StepOutcome] = []
    _run_to_completion(lambda: materialize_assets(selection, list(plan.partitions), return_state=True))
    return collected


def _run_to_completion(make: Callable[[], Any]) -> None:
    """Run the coroutine `make()` returns to its end, also when this thread already runs an
    event loop (a notebook, an async caller): then on a thread of its own, same context."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(make())
        return
    context = contextvars.copy_context()
    with ThreadPoolExecutor(1, thread_name_prefix="assetgraph-flow") as pool:
        pool.submit(context.run, lambda: asyncio.run(make())).result()
