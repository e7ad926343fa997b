"""Where each asset goes on the lineage diagram: a pure function of the graph, no I/O.

Layered left to right (a node's column is its longest path from a root, so every edge points
right), one horizontal lane per group (groups stay visible as bands), and within a lane the
nodes of a column ordered by the mean row of their parents, which keeps most edges short and
uncrossed without a full crossing-minimisation pass. A column holding more than `MAX_ROWS` nodes
of one lane wraps into side-by-side sub-columns, so a 100-model staging layer is a block, not a
5,000-pixel strip. Deterministic: the same graph always gives the same picture.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

__all__ = ["NODE_W", "NODE_H", "MAX_ROWS", "Box", "Lane", "Layout", "layout"]

NODE_W = 220
NODE_H = 34
_COL_GAP = 70
_ROW_GAP = 12
_LANE_PAD = 26  # room for the lane's title above its first row
_MARGIN = 16
MAX_ROWS = 12


@dataclass(frozen=True)
class Box:
    key: str
    group: str
    column: int
    x: int
    y: int


@dataclass(frozen=True)
class Lane:
    group: str
    y: int
    height: int


@dataclass(frozen=True)
class Layout:
    boxes: Mapping[str, Box]
    lanes: tuple[Lane, ...]
    edges: tuple[tuple[str, str], ...]  # (upstream, downstream), both present in `boxes`
    width: int
    height: int


def _columns(nodes: list[str], parents: Mapping[str, list[str]]) -> dict[str, int]:
    column: dict[str, int] = {}
    remaining = {n: len(parents[n]) for n in nodes}
    children: dict[str, list[str]] = defaultdict(list)
    for n in nodes:
        for p in parents[n]:
            children[p].append(n)
    ready = sorted(n for n, c in remaining.items() if c == 0)
    while ready:
        n = ready.pop()
        column[n] = max((column[p] + 1 for p in parents[n]), default=0)
        for c in children[n]:
            remaining[c] -= 1
            if remaining[c] == 0:
                ready.append(c)
    if len(column) != len(nodes):
        cyclic = sorted(set(nodes) - set(column))
        raise ValueError(f"the graph has a cycle through {', '.join(cyclic[:5])}")
    return column


def layout(
    nodes: Iterable[str], edges: Iterable[tuple[str, str]], groups: Mapping[str, str]
) -> Layout:
    """Place `nodes` (asset keys) given `edges` (upstream, downstream) and each node's group."""
    nodes = sorted(set(nodes))
    node_set = set(nodes)
    edge_list = sorted({(u, d) for u, d in edges if u in node_set and d in node_set and u != d})
    parents: dict[str, list[str]] = {n: [] for n in nodes}
    for u, d in edge_list:
        parents[d].append(u)
    column = _columns(nodes, parents)

    # lanes: groups ordered by where they start (sources first), then by name
    members: dict[str, list[str]] = defaultdict(list)
    for n in nodes:
        members[groups.get(n, "default")].append(n)
    lane_order = sorted(
        members, key=lambda g: (sum(column[n] for n in members[g]) / len(members[g]), g)
    )

    # rows inside each lane, column by column, by the mean row of already placed parents
    row: dict[str, float] = {}  # global order, for the parents' mean
    slot: dict[str, tuple[int, int]] = {}  # (sub-column, row within the lane)
    lane_rows: dict[str, int] = {}
    subcolumns = defaultdict(lambda: 1)  # column -> widest wrap over all lanes
    offset = 0.0
    for g in lane_order:
        by_col: dict[int, list[str]] = defaultdict(list)
        for n in members[g]:
            by_col[column[n]].append(n)
        rows_here = min(MAX_ROWS, max(len(v) for v in by_col.values()))
        for col in sorted(by_col):
            def weight(n: str) -> tuple[float, str]:
                placed = [row[p] for p in parents[n] if p in row]
                return (sum(placed) / len(placed) if placed else float("inf"), n)

            ordered = sorted(by_col[col], key=weight)
            for i, n in enumerate(ordered):
                slot[n] = (i // rows_here, i % rows_here)
                row[n] = offset + i % rows_here + (i // rows_here) / (len(ordered) + 1)
            subcolumns[col] = max(subcolumns[col], -(-len(ordered) // rows_here))
        lane_rows[g] = rows_here
        offset += rows_here

    columns = max(column.values(), default=-1) + 1
    col_x: list[int] = []
    x = _MARGIN
    for col in range(columns):
        col_x.append(x)
        x += subcolumns[col] * (NODE_W + _COL_GAP)
    width = max(x - _COL_GAP + _MARGIN, NODE_W + 2 * _MARGIN)

    boxes: dict[str, Box] = {}
    lanes: list[Lane] = []
    y = _MARGIN
    for g in lane_order:
        height = _LANE_PAD + lane_rows[g] * (NODE_H + _ROW_GAP)
        lanes.append(Lane(group=g, y=y, height=height))
        for n in members[g]:
            sub, r = slot[n]
            boxes[n] = Box(
                key=n, group=g, column=column[n],
                x=col_x[column[n]] + sub * (NODE_W + _COL_GAP),
                y=y + _LANE_PAD + r * (NODE_H + _ROW_GAP),
            )
        y += height + _ROW_GAP
    return Layout(boxes=boxes, lanes=tuple(lanes), edges=tuple(edge_list), width=width, height=y + _MARGIN)
