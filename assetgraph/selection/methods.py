"""Selector methods: one small class per `method:` keyword, collected in `METHODS`.

Adding a method = one subclass here + one test in tests/assetgraph/selection/test_methods.py.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from assetgraph.graph import AssetGraph
    from assetgraph.keys import AssetKey

__all__ = ["SelectorMethod", "METHODS", "candidates"]


class SelectorMethod:
    name: ClassVar[str]

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


METHODS: dict[str, SelectorMethod] = {
    m.name: m() for m in (KeyMethod, TagMethod, GroupMethod, KindMethod, OwnerMethod)
}


def candidates(method: str, graph: "AssetGraph") -> set[str]:
    return METHODS[method].values(graph)
