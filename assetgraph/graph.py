"""The asset graph: specs and checks keyed by AssetKey, with parent/child walks and a
deterministic topological order. Built once, never mutated."""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from assetgraph.errors import CycleError, GraphError
from assetgraph.keys import AssetKey, CheckKey
from assetgraph.specs import AssetKind, AssetSpec, CheckSpec

__all__ = ["AssetGraph"]


@dataclass(frozen=True)
class AssetGraph:
    specs: Mapping[AssetKey, AssetSpec]
    checks: Mapping[CheckKey, CheckSpec] = field(default_factory=dict)
    _parents: Mapping[AssetKey, frozenset[AssetKey]] = field(default_factory=dict, repr=False)
    _children: Mapping[AssetKey, frozenset[AssetKey]] = field(default_factory=dict, repr=False)
    _order: tuple[AssetKey, ...] = field(default=(), repr=False)

    @classmethod
    def build(cls, specs: Iterable[AssetSpec], checks: Iterable[CheckSpec] = ()) -> "AssetGraph":
        by_key: dict[AssetKey, AssetSpec] = {}
        for spec in specs:
            if spec.key in by_key:
                raise GraphError(f"asset {spec.key} is declared twice")
            by_key[spec.key] = spec
        parents: dict[AssetKey, set[AssetKey]] = {k: set() for k in by_key}
        children: dict[AssetKey, set[AssetKey]] = {k: set() for k in by_key}
        for spec in by_key.values():
            for dep in spec.deps:
                if dep not in by_key:
                    raise GraphError(f"asset {spec.key} depends on {dep}, which is not defined")
                parents[spec.key].add(dep)
                children[dep].add(spec.key)
        check_map: dict[CheckKey, CheckSpec] = {}
        for check in checks:
            if check.asset not in by_key:
                raise GraphError(f"check {check.key} is attached to unknown asset {check.asset}")
            check_map[check.key] = check
        order = _toposort(parents)
        return cls(
            specs=by_key,
            checks=check_map,
            _parents={k: frozenset(v) for k, v in parents.items()},
            _children={k: frozenset(v) for k, v in children.items()},
            _order=order,
        )

    # ---- queries -------------------------------------------------------------------------
    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """All keys in topological order (ties broken by key)."""
        return self._order

    def __contains__(self, key: object) -> bool:
        return key in self.specs

    def spec(self, key: AssetKey) -> AssetSpec:
        return self.specs[key]

    def parents(self, key: AssetKey) -> frozenset[AssetKey]:
        return self._parents[key]

    def children(self, key: AssetKey) -> frozenset[AssetKey]:
        return self._children[key]

    def checks_for(self, key: AssetKey) -> tuple[CheckSpec, ...]:
        return tuple(sorted((c for c in self.checks.values() if c.asset == key), key=lambda c: c.key))

    def materializable(self, key: AssetKey) -> bool:
        return self.specs[key].kind is not AssetKind.SOURCE

    def upstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        """`keys` plus ancestors up to `depth` layers (None: all)."""
        return self._walk(keys, self._parents, depth)

    def downstream(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return self._walk(keys, self._children, depth)

    def toposort(self, keys: Iterable[AssetKey]) -> list[AssetKey]:
        wanted = set(keys)
        return [k for k in self._order if k in wanted]

    def layers(self, keys: Iterable[AssetKey]) -> list[list[AssetKey]]:
        """Group `keys` into layers that can run in parallel (within the sub-graph)."""
        wanted = set(keys)
        level: dict[AssetKey, int] = {}
        for key in self._order:
            if key in wanted:
                ups = [level[p] for p in self.upstream([key]) - {key} if p in level]
                level[key] = 1 + max(ups) if ups else 0
        out: list[list[AssetKey]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for key in self._order:
            if key in level:
                out[level[key]].append(key)
        return out

    @staticmethod
    def _walk(
        keys: Iterable[AssetKey],
        edges: Mapping[AssetKey, frozenset[AssetKey]],
        depth: int | None,
    ) -> set[AssetKey]:
        seen = set(keys)
        frontier = set(seen)
        step = 0
        while frontier and (depth is None or step < depth):
            frontier = {n for k in frontier for n in edges.get(k, ())} - seen
            seen |= frontier
            step += 1
        return seen


def _toposort(parents: Mapping[AssetKey, set[AssetKey]]) -> tuple[AssetKey, ...]:
    sorter = graphlib.TopologicalSorter({k: sorted(v) for k, v in parents.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = [str(k) for k in exc.args[1]]
        raise CycleError(cycle) from None
    order: list[AssetKey] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return tuple(order)
