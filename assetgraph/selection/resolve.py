"""`resolve(node, graph) -> set[AssetKey]`: evaluate a parsed selection against a graph.

A term that matches nothing is an error naming the closest matches; it never selects nothing
silently.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from assetgraph.errors import AssetGraphError, UnknownAssetError
from assetgraph.selection.ast import And, Leaf, Node, Not, Or, Traverse
from assetgraph.selection.context import SelectionContext
from assetgraph.selection.methods import METHODS

if TYPE_CHECKING:
    from assetgraph.graph import AssetGraph
    from assetgraph.keys import AssetKey

__all__ = ["resolve"]


def resolve(node: Node, graph: "AssetGraph", context: SelectionContext | None = None) -> set["AssetKey"]:
    """`context` carries what `state:`/`status:` leaves need (see selection/context.py)."""
    if isinstance(node, Leaf):
        method = METHODS[node.method]
        found = method.select(graph, node.value, context)
        if not found and not method.may_be_empty:
            options = sorted(METHODS[node.method].values(graph))
            close = difflib.get_close_matches(node.value, options, n=3, cutoff=0.5)
            if not close and node.method == "key":
                # try matching on the last part: `stg_signups` -> `staging/stg_signups`
                close = [o for o in options if o.rsplit("/", 1)[-1] == node.value][:3]
            raise UnknownAssetError(str(node), close)
        return found
    if isinstance(node, Traverse):
        base = resolve(node.child, graph, context)
        out = set(base)
        if node.up != 0:
            out |= graph.upstream(base, node.up)
        if node.down != 0:
            out |= graph.downstream(base, node.down)
        return out
    if isinstance(node, Or):
        out = set()
        for item in node.items:
            out |= resolve(item, graph, context)
        return out
    if isinstance(node, And):
        result = resolve(node.items[0], graph, context)
        for item in node.items[1:]:
            result &= resolve(item, graph, context)
        return result
    if isinstance(node, Not):
        return set(graph.keys) - resolve(node.child, graph, context)
    raise AssetGraphError(f"unknown selection node {node!r}")  # pragma: no cover
