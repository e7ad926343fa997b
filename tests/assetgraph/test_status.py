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


def test_status_selection_sets_from_the_catalog(warehouse):
    from assetgraph.specs import CheckSpec
    from assetgraph.keys import CheckKey
    from assetgraph.status import status_sets

    g = AssetGraph.build(
        [
            AssetSpec.create("raw/ok", freshness=FreshnessPolicy(26)),
            AssetSpec.create("raw/late", freshness=FreshnessPolicy(26)),
            AssetSpec.create("raw/broke"),
            AssetSpec.create("raw/blocked"),
            AssetSpec.create("raw/warned"),
            AssetSpec.create("raw/never"),
            AssetSpec.create("ext/source", kind="source"),
        ],
        [CheckSpec(CheckKey(AssetKey.from_user_string("raw/blocked"), "gate"), blocking=True),
         CheckSpec(CheckKey(AssetKey.from_user_string("raw/warned"), "hint"), blocking=False)],
    )
    catalog.ensure_catalog(warehouse)
    now = dt.datetime(2026, 11, 22, 12, 0)
    for key, hours_ago, status in [("raw/ok", 1, "success"), ("raw/late", 40, "success"), ("raw/broke", 1, "failed"),
                                   ("raw/blocked", 1, "success"), ("raw/warned", 1, "success")]:
        t = now - dt.timedelta(hours=hours_ago)
        catalog.record_materialization(warehouse, run_id="r1", asset_key=key, partition_key=None, status=status,
                                       started_at=t, finished_at=t)
    for key, name, blocking in [("raw/blocked", "gate", True), ("raw/warned", "hint", False)]:
        catalog.record_check(warehouse, run_id="r1", asset_key=key, check_name=name, partition_key=None,
                             source="python", blocking=blocking, status="failed")
    sets = {k: {str(x) for x in v} for k, v in status_sets(warehouse, g, now=now).items()}
    assert sets == {"failed": {"raw/broke", "raw/blocked"}, "stale": {"raw/late"}, "never": {"raw/broke", "raw/never"}}


def test_catalog_migration_adds_the_run_columns_once(warehouse):
    from assetgraph.warehouse import connect

    with connect(warehouse) as conn, conn.cursor() as cur:  # a catalog from before retry_of existed
        cur.execute("create schema asset_catalog")
        cur.execute("create table asset_catalog.runs (run_id varchar(64) not null, selection varchar(4096),"
                    " partitions varchar(4096), status varchar(32), started_at timestamp, finished_at timestamp,"
                    " trigger varchar(64), message varchar(4096))")
        cur.execute("insert into asset_catalog.runs (run_id, status) values ('old', 'failed')")
    catalog.ensure_catalog(warehouse)
    catalog.ensure_catalog(warehouse)  # idempotent
    run = catalog.read_run(warehouse, "old")
    assert run is not None and run.retry_of is None and run.metadata == {}
    catalog.record_run_start(warehouse, "new", "a", (), "retry", retry_of="old", metadata={"options": {"x": 1}})
    assert catalog.read_run(warehouse, "new").retry_of == "old"
    with connect(warehouse) as conn, conn.cursor() as cur:
        assert catalog.retries_of(cur, ["old"]) == {"old": ["new"]}


def test_list_status_never_and_failed_from_the_cli(shop_env):
    import json

    from typer.testing import CliRunner

    from assetgraph.cli import app

    result = CliRunner().invoke(app, ["list", "status:never", "--json"])  # nothing ran yet: no catalog at all
    assert result.exit_code == 0, result.output
    assert {r["key"] for r in json.loads(result.output)} == {
        "base/base_orders", "seeds/countries", "reporting/revenue_by_country",  # not the source shop_raw/orders
    }
    result = CliRunner().invoke(app, ["list", "status:failed+", "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == []
