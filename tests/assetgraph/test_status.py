"""Status and freshness read from the catalog tables."""

import datetime as dt

from assetgraph import catalog
from assetgraph.graph import AssetGraph
from assetgraph.keys import AssetKey
from assetgraph.specs import AssetSpec, FreshnessPolicy
from assetgraph.status import asset_status


def test_stale_and_fresh_assets_and_failing_checks(warehouse):
    g = AssetGraph.build([
        AssetSpec.create("raw/old", freshness=FreshnessPolicy(26)),
        AssetSpec.create("raw/new", freshness=FreshnessPolicy(26)),
        AssetSpec.create("raw/never", freshness=FreshnessPolicy(26)),
        AssetSpec.create("raw/nopolicy"),
    ])
    catalog.ensure_catalog(warehouse)
    now = dt.datetime(2026, 11, 22, 12, 0)
    for key, hours_ago, status in [("raw/old", 30, "success"), ("raw/new", 2, "success"), ("raw/new", 1, "failed")]:
        t = now - dt.timedelta(hours=hours_ago)
        catalog.record_materialization(
            warehouse, run_id=f"r-{key}-{hours_ago}", asset_key=key, partition_key=None, status=status,
            started_at=t, finished_at=t, row_count=5,
        )
    catalog.record_check(
        warehouse, run_id="r-raw/new-1", asset_key="raw/new", check_name="not_empty", partition_key=None,
        source="python", blocking=True, status="failed",
    )
    views = {v.key: v for v in asset_status(warehouse, g, [AssetKey.from_user_string(k) for k in
                                                           ("raw/old", "raw/new", "raw/never", "raw/nopolicy")], now=now)}
    assert views["raw/old"].stale is True
    assert views["raw/new"].stale is False  # last success 2 h ago, though the last run failed
    assert views["raw/new"].last_status == "failed"
    assert views["raw/new"].failed_checks == ("not_empty",)
    assert views["raw/never"].stale is True and views["raw/never"].last_status is None
    assert views["raw/nopolicy"].stale is None
    assert views["raw/old"].as_json()["stale"] is True
