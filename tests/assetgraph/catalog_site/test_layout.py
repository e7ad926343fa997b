"""The lineage layout: every edge points right, groups are lanes, nothing overlaps."""

import random

import pytest

from assetgraph.catalog_site.layout import MAX_ROWS, NODE_H, NODE_W, layout


def _random_dag(n, groups, seed):
    rng = random.Random(seed)
    nodes = [f"{groups[i % len(groups)]}/m{i:03d}" for i in range(n)]
    edges = [(nodes[j], nodes[i]) for i in range(1, n) for j in rng.sample(range(i), min(i, rng.randint(0, 3)))]
    return nodes, edges, {k: k.split("/")[0] for k in nodes}


def test_small_graph_columns_and_lanes():
    lay = layout(
        ["raw/a", "staging/b", "marts/c", "raw/d"],
        [("raw/a", "staging/b"), ("staging/b", "marts/c"), ("raw/d", "marts/c")],
        {"raw/a": "raw", "raw/d": "raw", "staging/b": "staging", "marts/c": "marts"},
    )
    assert {k: b.column for k, b in lay.boxes.items()} == {"raw/a": 0, "raw/d": 0, "staging/b": 1, "marts/c": 2}
    assert [lane.group for lane in lay.lanes] == ["raw", "staging", "marts"]  # sources first
    assert lay.edges == (("raw/a", "staging/b"), ("raw/d", "marts/c"), ("staging/b", "marts/c"))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_invariants_on_a_500_node_graph(seed):
    nodes, edges, groups = _random_dag(500, ["raw", "staging", "intermediate", "marts", "sync"], seed)
    lay = layout(nodes, edges, groups)
    assert set(lay.boxes) == set(nodes)
    for up, down in lay.edges:
        assert lay.boxes[up].column < lay.boxes[down].column, (up, down)
        assert lay.boxes[up].x + NODE_W < lay.boxes[down].x, (up, down)  # drawn pointing right
    lanes = {lane.group: lane for lane in lay.lanes}
    for key, box in lay.boxes.items():
        lane = lanes[groups[key]]
        assert lane.y <= box.y and box.y + NODE_H <= lane.y + lane.height, key
        assert box.x + NODE_W <= lay.width and box.y + NODE_H <= lay.height
    seen = {(b.x, b.y) for b in lay.boxes.values()}
    assert len(seen) == len(nodes)  # no two boxes in the same place
    ordered = sorted(lay.lanes, key=lambda lane: lane.y)
    for a, b in zip(ordered, ordered[1:]):
        assert a.y + a.height <= b.y  # lanes do not overlap
    rows = {(b.group, b.y) for b in lay.boxes.values()}
    for lane in lay.lanes:  # tall layers wrap into sub-columns instead of growing a lane
        assert len({y for g, y in rows if g == lane.group}) <= MAX_ROWS
    assert lay.height < 8 * (NODE_H + 12) * MAX_ROWS
    assert layout(nodes, edges, groups) == lay  # deterministic


def test_a_cycle_is_an_error_naming_its_nodes():
    with pytest.raises(ValueError, match="cycle through a, b"):
        layout(["a", "b", "c"], [("a", "b"), ("b", "a"), ("c", "a")], {})


def test_edges_to_unknown_nodes_and_self_loops_are_ignored():
    lay = layout(["a", "b"], [("a", "b"), ("a", "a"), ("zzz", "b")], {})
    assert lay.edges == (("a", "b"),)
