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


class _ContextMethod(SelectorMethod):
    """A method answered from the `SelectionContext`, over a fixed set of values."""

    choices: ClassVar[tuple[str, ...]]
    missing: ClassVar[str]  # what to say when the context lacks this method's part
    may_be_empty = True

    def select(self, graph, value, context):
        if value not in self.choices:
            raise SelectionContextError(f"{self.name}:{value}", f"expected one of {', '.join(self.choices)}")
        found = self.lookup(context, value) if context is not None else None
        if found is None:
            raise SelectionContextError(f"{self.name}:{value}", self.missing)
        return {k for k in found if k in graph}

    def lookup(self, context: SelectionContext, value: str) -> set["AssetKey"] | None:
        raise NotImplementedError

    def values(self, graph):
        return set(self.choices)


class StateMethod(_ContextMethod):
    """`state:modified`, `state:new`, `state:modified.body|configs|relation|macros|checks|code_version`,
    against the state given with `--state DIR` (see assetgraph/state.py)."""

    name = "state"
    choices = STATE_VALUES
    missing = "needs --state DIR (a dbt target folder with manifest.json)"

    def lookup(self, context, value):
        return context.state.matching(value) if context.state is not None else None


class StatusMethod(_ContextMethod):
    """`status:failed` (last materialization failed, or a blocking check fails), `status:stale`
    (past its freshness policy), `status:never` (never materialized successfully); from the catalog."""

    name = "status"
    choices = STATUS_VALUES
    missing = "needs the catalog (no selection context given)"

    def lookup(self, context, value):
        return set(context.statuses.get(value, ())) if context.statuses is not None else None


METHODS: dict[str, SelectorMethod] = {
    m.name: m()
    for m in (KeyMethod, TagMethod, GroupMethod, KindMethod, OwnerMethod, StateMethod, StatusMethod)
}


def candidates(method: str, graph: "AssetGraph") -> set[str]:
    return METHODS[method].values(graph)
