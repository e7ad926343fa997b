"""A pure execution plan: which steps run, for which partition, after which other steps."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Sequence

from assetgraph.errors import AssetGraphError
from assetgraph.graph import AssetGraph
from assetgraph.keys import AssetKey

__all__ = ["Step", "Plan", "build_plan", "restrict_plan", "joinable_below"]


@dataclass(frozen=True)
class Step:
    key: AssetKey
    partition: str | None
    upstream: tuple[str, ...]  # step ids that must finish first
    # Non-empty: evaluate only these checks of the asset, do not materialize it (a retry of a
    # run whose blocking check failed: the data was fixed, the check runs again).
    recheck: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return step_id(self.key, self.partition)


def step_id(key: AssetKey, partition: str | None) -> str:
    return f"{key}[{partition}]" if partition else str(key)


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    partitions: tuple[str, ...]
    skipped_sources: tuple[AssetKey, ...] = ()

    def by_id(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    @property
    def keys(self) -> list[AssetKey]:
        return list(dict.fromkeys(s.key for s in self.steps))


def build_plan(
    graph: AssetGraph, selected: Iterable[AssetKey], partitions: Sequence[str] = ()
) -> Plan:
    """Order the selected assets; partitioned assets get one step per partition.

    Unpartitioned assets run once, after every partition of their selected parents.
    External (source) assets are never materialized and are left out.
    """
    ordered = graph.toposort(selected)
    runnable = [k for k in ordered if graph.materializable(k)]
    sources = tuple(k for k in ordered if not graph.materializable(k))
    if partitions:
        partitioned = [k for k in runnable if graph.spec(k).partitions is not None]
        if not partitioned:
            raise AssetGraphError(
                "--partition/--from/--to given, but no selected asset is partitioned"
            )
        for k in partitioned:
            spec_parts = graph.spec(k).partitions
            assert spec_parts is not None
            for p in partitions:
                spec_parts.keys_between(p, p)  # validates the date and the start bound

    steps: list[Step] = []
    ids_for: dict[AssetKey, list[str]] = {}
    chosen = set(runnable)
    for key in runnable:
        nearest = _nearest_selected_ancestors(graph, key, chosen)
        spec = graph.spec(key)
        parts: Sequence[str | None] = list(partitions) if (partitions and spec.partitions) else [None]
        ids_for[key] = []
        for part in parts:
            deps: list[str] = []
            for p in nearest:
                for pid in ids_for[p]:
                    # a partition waits only for the same partition of partitioned parents
                    if part is None or "[" not in pid or pid.endswith(f"[{part}]"):
                        deps.append(pid)
            step = Step(key=key, partition=part, upstream=tuple(dict.fromkeys(deps)))
            steps.append(step)
            ids_for[key].append(step.id)
    return Plan(steps=tuple(steps), partitions=tuple(partitions), skipped_sources=sources)


def _nearest_selected_ancestors(
    graph: AssetGraph, key: AssetKey, chosen: set[AssetKey]
) -> list[AssetKey]:
    """Closest selected ancestors, looking through unselected ones, so `a c` still runs
    `c` after `a` when `b` sits between them."""
    found: set[AssetKey] = set()
    frontier, seen = set(graph.parents(key)), set()
    while frontier:
        nxt: set[AssetKey] = set()
        for p in frontier - seen:
            seen.add(p)
            if p in chosen:
                found.add(p)
            else:
                nxt |= graph.parents(p)
        frontier = nxt
    return sorted(found)


def restrict_plan(plan: Plan, keep: Mapping[str, tuple[str, ...]]) -> Plan:
    """The steps of `plan` whose ids are in `keep` (id -> checks to re-evaluate only, `()` to
    materialize), each waiting for its nearest kept upstream steps (through dropped ones)."""
    by_id = plan.by_id()
    memo: dict[str, tuple[str, ...]] = {}

    def kept_above(sid: str) -> tuple[str, ...]:
        if sid not in memo:
            found: list[str] = []
            for up in by_id[sid].upstream:
                found.extend([up] if up in keep else kept_above(up))
            memo[sid] = tuple(dict.fromkeys(found))
        return memo[sid]

    steps = tuple(
        replace(s, upstream=kept_above(s.id), recheck=tuple(keep[s.id])) for s in plan.steps if s.id in keep
    )
    parts = tuple(p for p in plan.partitions if any(s.partition == p for s in steps))
    return Plan(steps=steps, partitions=parts, skipped_sources=plan.skipped_sources)


def joinable_below(
    pending: Sequence[Step],
    batch: Sequence[Step],
    *,
    joins: Callable[[Step], bool],
    passes_on: Callable[[Step], bool],
    finished_ok: Callable[[str], bool],
) -> list[Step]:
    """The pending steps that can start together with `batch` because every gate between them
    is enforced by whatever runs the batch (dbt's build skips a node below a failed node or a
    failed test): a step joins when `joins(step)` and each of its upstream steps is either in
    the batch with `passes_on(upstream)` (its only gates are the batch runner's own) or
    `finished_ok`. Returns the joined steps in plan order; `batch` itself is not included."""
    open_ids = {s.id for s in batch if passes_on(s)}
    taken = {s.id for s in batch}
    joined: list[Step] = []
    for step in pending:  # plan order is topological: one pass sees every upstream first
        if step.id in taken or not joins(step) or not any(u in open_ids for u in step.upstream):
            continue
        if all(u in open_ids or (u not in taken and finished_ok(u)) for u in step.upstream):
            joined.append(step)
            taken.add(step.id)
            if passes_on(step):
                open_ids.add(step.id)
    return joined
