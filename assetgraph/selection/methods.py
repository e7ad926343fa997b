"""Selector methods: one small class per `method:` keyword, collected in `METHODS`.

Adding a method = one subclass here + one test in tests/assetgraph/selection/test_methods.py.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, ClassVar

from assetgraph.errors import SelectionContextError
from assetgraph.selection.context import STATE_VALUES, STATUS_VALUES, SelectionContext

if TYPE_CHECKING:
    from assetgraph.graph import AssetGraph
    from assetgraph.keys import AssetKey

__all__ = ["SelectorMethod", "METHODS", "candidates"]


class SelectorMethod:
    name: ClassVar[str]
    # True for methods whose answer may rightly be empty (`state:modified` with no change);
    # their values are a fixed set, checked instead.
    may_be_empty: ClassVar[bool] = False

    def select(self, graph: "AssetGraph", value: str, context: SelectionContext | None) -> set["AssetKey"]:
        """What `resolve` calls; methods that need the context override this."""
        return self.search(graph, value)

    def search(self, graph: "AssetGraph", value: str) -> set["AssetKey"]:
        raise NotImplementedError

    def values(self, graph: "AssetGraph") -> set[str]:
        """All values this method could match (for 'did you mean' hints)."""
        raise NotImplementedError


class KeyMethod(SelectorMethod):
    """`raw/signups`, `key:raw/signups`, globs `raw/*`, `*assignments`."""

    name = "key"

    def search(self, graph, value):
        if any(ch in value for ch in "*?["):
            return {k for k in graph.keys if fnmatch.fnmatchcase(k.to_user_string(), value)}
        return {k for k in graph.keys if k.to_user_string() == value}

    def values(self, graph):
        return {k.to_user_string() for k in graph.keys}


class TagMethod(SelectorMethod):
    name = "tag"

    def search(self, graph, value):
        return {k for k, s in graph.specs.items() if value in s.tags}

    def values(self, graph):
        return {t for s in graph.specs.values() for t in s.tags}


class GroupMethod(SelectorMethod):
    name = "group"

    def search(self, graph, value):
        return {k for k, s in graph.specs.items() if fnmatch.fnmatchcase(s.group, value)}

    def values(self, graph):
        return {s.group for s in graph.specs.values()}


class KindMethod(SelectorMethod):
    name = "kind"

    def search(self, graph, value):
        return {k for k, s in graph.specs.items() if s.kind.value == value}

    def values(self, graph):
        return {s.kind.value for s in graph.specs.values()}


class OwnerMethod(SelectorMethod):
    name = "owner"

    def search(self, graph, value):
        return {k for k, s in graph.specs.items() if value in s.owners}

    def values(self, graph):
        return {o for s in graph.specs.values() for o in s.owners}


class StateMethod(SelectorMethod):
    """`state:modified`, `state:new`, `state:modified.body|configs|relation|macros|checks|code_version`,
    against the state given with `--state DIR` (see assetgraph/state.py)."""

    name = "state"
    may_be_empty = True

    def select(self, graph, value, context):
        if value not in STATE_VALUES:
            raise SelectionContextError(f"state:{value}", f"expected one of {', '.join(STATE_VALUES)}")
        if context is None or context.state is None:
            raise SelectionContextError(f"state:{value}", "needs --state DIR (a dbt target folder with manifest.json)")
        return {k for k in context.state.matching(value) if k in graph}

    def values(self, graph):
        return set(STATE_VALUES)


class StatusMethod(SelectorMethod):
    """`status:failed` (last materialization failed, or a blocking check fails), `status:stale`
    (past its freshness policy), `status:never` (never materialized successfully); from the catalog."""

    name = "status"
    may_be_empty = True

    def select(self, graph, value, context):
        if value not in STATUS_VALUES:
            raise SelectionContextError(f"status:{value}", f"expected one of {', '.join(STATUS_VALUES)}")
        if context is None or context.statuses is None:
            raise SelectionContextError(f"status:{value}", "needs the catalog (no selection context given)")
        return {k for k in context.statuses.get(value, frozenset()) if k in graph}

    def values(self, graph):
        return set(STATUS_VALUES)


METHODS: dict[str, SelectorMethod] = {
    m.name: m()
    for m in (KeyMethod, TagMethod, GroupMethod, KindMethod, OwnerMethod, StateMethod, StatusMethod)
}


def candidates(method: str, graph: "AssetGraph") -> set[str]:
    return METHODS[method].values(graph)
