"""Asset selection: `parse` (string -> AST, pure) and `resolve` (AST + graph -> keys)."""

from assetgraph.selection.ast import And, Leaf, Node, Not, Or, Traverse, methods_used
from assetgraph.selection.context import SelectionContext, StateDiff
from assetgraph.selection.methods import METHODS, SelectorMethod
from assetgraph.selection.parser import parse
from assetgraph.selection.resolve import resolve

__all__ = [
    "parse", "resolve", "select", "Node", "Leaf", "Traverse", "Or", "And", "Not", "METHODS", "SelectorMethod",
    "SelectionContext", "StateDiff", "methods_used",
]


def select(text: str, graph, context: SelectionContext | None = None):  # type: ignore[no-untyped-def]
    """Parse and resolve in one call; returns keys in topological order."""
    return graph.toposort(resolve(parse(text), graph, context))
