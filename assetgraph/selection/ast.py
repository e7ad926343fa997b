"""The selection AST: frozen nodes, each printing back to the syntax it was parsed from.

`str(node)` is canonical, so `parse(str(parse(s))) == parse(s)` for every valid `s`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

__all__ = ["Node", "Leaf", "Traverse", "Or", "And", "Not", "methods_used"]

# Values that print without quotes; anything else is printed as a double-quoted string.
_BARE = re.compile(r"^[A-Za-z0-9_.\-/*?\[\]=]+$")
_KEYWORDS = {"and", "or", "not"}


def _fmt_value(value: str) -> str:
    if _BARE.match(value) and value.lower() not in _KEYWORDS and not value.isdigit():
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Leaf:
    """`method:value`. A bare term is `key:<term>` (globs allowed)."""

    method: str
    value: str

    def __str__(self) -> str:
        if self.method == "key":
            return _fmt_value(self.value)
        return f"{self.method}:{_fmt_value(self.value)}"


@dataclass(frozen=True)
class Traverse:
    """`N+child+M`: `up`/`down` are layer counts, None for 'all', 0 for none."""

    child: "Node"
    up: int | None = 0
    down: int | None = 0

    def __str__(self) -> str:
        inner = str(self.child)
        if isinstance(self.child, (Or, And, Not)):
            inner = f"({inner})"
        pre = "" if self.up == 0 else ("+" if self.up is None else f"{self.up}+")
        post = "" if self.down == 0 else ("+" if self.down is None else f"+{self.down}")
        return f"{pre}{inner}{post}"


@dataclass(frozen=True)
class Or:
    """Union: space-separated terms, or `a or b`."""

    items: tuple["Node", ...]

    def __str__(self) -> str:
        return " ".join(f"({i})" if isinstance(i, Or) else str(i) for i in self.items)


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]

    def __str__(self) -> str:
        return " and ".join(f"({i})" if isinstance(i, (Or, And)) else str(i) for i in self.items)


@dataclass(frozen=True)
class Not:
    child: "Node"

    def __str__(self) -> str:
        inner = str(self.child)
        if isinstance(self.child, (Or, And)):
            inner = f"({inner})"
        return f"not {inner}"


Node = Union[Leaf, Traverse, Or, And, Not]


def methods_used(node: Node) -> set[str]:
    """The `method:` names a selection uses (so a caller loads only the context it needs)."""
    if isinstance(node, Leaf):
        return {node.method}
    if isinstance(node, (Traverse, Not)):
        return methods_used(node.child)
    return set().union(*(methods_used(i) for i in node.items))
