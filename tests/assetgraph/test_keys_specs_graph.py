"""Keys, specs and the graph: small values, clear errors, deterministic order."""

import pytest

from assetgraph.errors import AssetGraphError, CycleError, GraphError, InvalidAssetKey
from assetgraph.execution.plan import build_plan
from assetgraph.graph import AssetGraph
from assetgraph.keys import AssetKey, CheckKey
from assetgraph.specs import AssetSpec, DailyPartitions, FreshnessPolicy


def test_asset_key_round_trip_and_coercion():
    key = AssetKey.from_user_string("marts/van_source_code_assignments")
    assert key.parts == ("marts", "van_source_code_assignments")
    assert key.to_user_string() == "marts/van_source_code_assignments"
    assert AssetKey.from_coercible(["raw", "signups"]) == AssetKey.from_coercible("raw/signups")
    assert AssetKey.from_coercible(key) is key


@pytest.mark.parametrize("bad", ["", "raw//signups", "raw/sign ups", "raw/a:b"])
def test_invalid_keys(bad):
    with pytest.raises(InvalidAssetKey):
        AssetKey.from_user_string(bad)


def test_check_key_round_trip():
    ck = CheckKey.from_user_string("marts/x:van_id_unique")
    assert ck == CheckKey(AssetKey(("marts", "x")), "van_id_unique")
    assert str(ck) == "marts/x:van_id_unique"
    with pytest.raises(InvalidAssetKey):
        CheckKey.from_user_string("marts/x")


def test_spec_is_frozen_and_changes_by_copy():
    spec = AssetSpec.create("raw/signups", tags=["nightly"])
    assert spec.group == "raw"
    with pytest.raises(Exception):
        spec.group = "other"  # type: ignore[misc]
    assert spec.replace(group="other").group == "other" and spec.group == "raw"
    with pytest.raises(AssetGraphError):
        AssetSpec.create("raw/a", deps=["raw/a"])


def test_partitions_and_freshness():
    p = DailyPartitions("2026-11-01")
    assert p.keys_between("2026-11-01", "2026-11-03") == ["2026-11-01", "2026-11-02", "2026-11-03"]
    with pytest.raises(AssetGraphError, match="before"):
        p.keys_between("2026-11-03", "2026-11-01")
    with pytest.raises(AssetGraphError, match="not a date"):
        p.keys_between("2026-11-01", "tomorrow")
    import datetime as dt

    now = dt.datetime(2026, 11, 22, 12)
    f = FreshnessPolicy(26)
    assert not f.is_stale(now - dt.timedelta(hours=25), now)
    assert f.is_stale(now - dt.timedelta(hours=27), now)
    assert f.is_stale(None, now)


def test_graph_order_unknown_dep_and_cycle():
    s = AssetSpec.create
    g = AssetGraph.build([s("c/c", deps=["b/b"]), s("b/b", deps=["a/a"]), s("a/a")])
    assert [str(k) for k in g.keys] == ["a/a", "b/b", "c/c"]
    assert [[str(k) for k in layer] for layer in g.layers(g.keys)] == [["a/a"], ["b/b"], ["c/c"]]
    with pytest.raises(GraphError, match="not defined"):
        AssetGraph.build([s("b/b", deps=["a/a"])])
    with pytest.raises(CycleError) as info:
        AssetGraph.build([s("a/a", deps=["b/b"]), s("b/b", deps=["a/a"])])
    assert set(info.value.cycle) >= {"a/a", "b/b"}


def test_plan_waits_through_unselected_assets_and_partitions():
    s = AssetSpec.create
    g = AssetGraph.build([
        s("raw/a", partitions=DailyPartitions("2026-01-01")),
        s("staging/b", deps=["raw/a"]),
        s("marts/c", deps=["staging/b"]),
    ])
    plan = build_plan(g, [AssetKey.from_user_string(k) for k in ("raw/a", "marts/c")], ["2026-11-01", "2026-11-02"])
    ids = {st.id: st.upstream for st in plan.steps}
    assert ids == {
        "raw/a[2026-11-01]": (),
        "raw/a[2026-11-02]": (),
        "marts/c": ("raw/a[2026-11-01]", "raw/a[2026-11-02]"),
    }
    with pytest.raises(AssetGraphError, match="before the first partition"):
        build_plan(g, [AssetKey.from_user_string("raw/a")], ["2025-01-01"])
    with pytest.raises(AssetGraphError, match="no selected asset is partitioned"):
        build_plan(g, [AssetKey.from_user_string("marts/c")], ["2026-11-01"])
