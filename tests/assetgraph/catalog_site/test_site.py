"""The catalog site from a real catalog in Postgres: statuses, checks, history, SQL, links."""

import datetime as dt
import json

import pytest

from assetgraph import catalog
from assetgraph.catalog_site import display_status, gather, page_name, write_catalog_site
from assetgraph.graph import AssetGraph
from assetgraph.keys import CheckKey
from assetgraph.specs import AssetKind, AssetSpec, CheckSpec, FreshnessPolicy

NOW = dt.datetime(2026, 11, 23, 7, 0)


@pytest.mark.parametrize(
    "kind, status, message, stale, shown",
    [
        (AssetKind.PYTHON, None, "", None, "never"),
        (AssetKind.SOURCE, None, "", True, "source"),
        (AssetKind.DBT, "success", "", False, "materialized"),
        (AssetKind.DBT, "success", "", None, "materialized"),
        (AssetKind.DBT, "success", "", True, "stale"),
        (AssetKind.DBT, "failed", "boom", True, "failed"),
        (AssetKind.SYNC, "skipped", "blocked by failed check marts/a:unique", None, "blocked"),
        (AssetKind.SYNC, "skipped", "upstream raw/a failed", None, "skipped"),
    ],
)
def test_display_status(kind, status, message, stale, shown):
    assert display_status(kind, status, message, stale) == shown


def _graph(tmp_path):
    return AssetGraph.build(
        [
            AssetSpec.create("raw/people", freshness=FreshnessPolicy(26), owners=["data@example.org"]),
            AssetSpec.create(
                "marts/assignments", deps=["raw/people"], kind="dbt",
                description="One row per person. <script>alert('x')</script>",
                metadata={"path": "models/marts/assignments.sql", "relation": "marts.assignments"},
            ),
            AssetSpec.create("sync/codes", deps=["marts/assignments"], kind="sync"),
        ],
        [CheckSpec(CheckKey.from_user_string("marts/assignments:van_id_unique"), blocking=True, source="gx")],
    )


def _record(wh, run_id, key, status, hours_ago, rows=None, message="", metadata=None):
    t = NOW - dt.timedelta(hours=hours_ago)
    catalog.record_materialization(
        wh, run_id=run_id, asset_key=key, partition_key=None, status=status,
        started_at=t - dt.timedelta(seconds=3), finished_at=t, row_count=rows, message=message, metadata=metadata,
    )


def test_site_from_the_catalog(warehouse, tmp_path):
    catalog.ensure_catalog(warehouse)
    catalog.record_run_start(warehouse, "run-1", "+sync/codes", [], "test")
    _record(warehouse, "run-0", "raw/people", "success", 30, rows=10)  # older than 26 h: stale
    _record(warehouse, "run-1", "marts/assignments", "success", 1, rows=9)
    _record(warehouse, "run-0", "sync/codes", "success", 30, metadata={"applied": 7, "failed": 1, "note": "x@y.org"})
    _record(warehouse, "run-1", "sync/codes", "skipped", 1, message="blocked by failed check marts/assignments:van_id_unique")
    for run, status in [("run-0", "passed"), ("run-1", "failed")]:
        catalog.record_check(
            warehouse, run_id=run, asset_key="marts/assignments", check_name="van_id_unique", partition_key=None,
            source="gx", blocking=True, status=status, message="2 duplicated VAN IDs" if status == "failed" else "",
            metadata={"unexpected_count": 2} if status == "failed" else {},
        )
    catalog.record_run_end(warehouse, "run-1", "failed", "failed blocking checks: marts/assignments:van_id_unique")

    dbt_dir = tmp_path / "dbt"
    compiled = dbt_dir / "target" / "compiled" / "pipeline" / "models" / "marts" / "assignments.sql"
    compiled.parent.mkdir(parents=True)
    compiled.write_text("select 1 as van_id -- compiled")
    quality = tmp_path / "reports" / "quality" / "quality-run-1.html"
    quality.parent.mkdir(parents=True)
    quality.write_text("<html></html>")

    graph = _graph(tmp_path)
    facts = gather(graph, warehouse, dbt_project_dir=dbt_dir, now=NOW)
    by_key = {a.key: a for a in facts.assets}
    assert by_key["raw/people"].status == "stale"
    assert by_key["marts/assignments"].status == "materialized"
    assert by_key["marts/assignments"].failing_checks == ("van_id_unique",)
    assert [r.status for r in by_key["marts/assignments"].checks[0].history] == ["failed", "passed"]
    assert by_key["sync/codes"].status == "blocked"
    assert by_key["sync/codes"].last_success_at == NOW - dt.timedelta(hours=30)
    assert facts.runs[0].run_id == "run-1" and facts.runs[0].status == "failed"

    out = tmp_path / "reports" / "catalog"
    (out / "assets").mkdir(parents=True)
    (out / "assets" / "removed__asset.html").write_text("old")
    index = write_catalog_site(graph, warehouse, out, dbt_project_dir=dbt_dir, links={"Quality": quality}, now=NOW)
    html = index.read_text()
    assert "href='../quality/quality-run-1.html'" in html  # relative: works from file:// and any host
    assert html.count("class='node ") == 3
    assert "data-failing-checks='van_id_unique'" in html
    assert not (out / "assets" / "removed__asset.html").exists()  # pages of removed assets go

    mart = (out / "assets" / page_name("marts/assignments")).read_text()
    assert "select 1 as van_id -- compiled" in mart and "Compiled SQL" in mart
    assert "<script>alert" not in mart and "&lt;script&gt;" in mart  # descriptions are escaped
    assert "data-check='van_id_unique' data-status='failed'" in mart
    assert "unexpected_count=2" in mart
    assert "href='../../quality/quality-run-1.html'" in mart

    sync = (out / "assets" / page_name("sync/codes")).read_text()
    assert "<th>applied</th>" in sync and "<th>failed</th>" in sync  # the sync's counts, per run
    assert "x@y.org" not in sync  # only numeric metadata is shown

    data = json.loads((out / "catalog.json").read_text())
    assert {a["key"]: a["status"] for a in data["assets"]} == {
        "raw/people": "stale", "marts/assignments": "materialized", "sync/codes": "blocked",
    }


def test_site_without_a_catalog_yet(warehouse, tmp_path):
    index = write_catalog_site(_graph(tmp_path), warehouse, tmp_path / "site")
    html = index.read_text()
    assert "No run recorded in the catalog yet." in html
    assert html.count("data-status='never'") == 3
    mart = (tmp_path / "site" / "assets" / page_name("marts/assignments")).read_text()
    assert "Never materialized." in mart


def test_run_pages_link_the_retry_chain(warehouse, tmp_path):
    catalog.ensure_catalog(warehouse)
    catalog.record_run_start(warehouse, "run-a", "+sync/codes", [], "cli")
    _record(warehouse, "run-a", "raw/people", "success", 3)
    _record(warehouse, "run-a", "marts/assignments", "failed", 3, message="dbt error: boom")
    _record(warehouse, "run-a", "sync/codes", "skipped", 3)
    catalog.record_run_end(warehouse, "run-a", "failed", "not ok: marts/assignments")
    for child in ("run-b", "run-c"):
        catalog.record_run_start(warehouse, child, "+sync/codes", [], "retry", retry_of="run-a")
    _record(warehouse, "run-c", "marts/assignments", "success", 1)
    out = tmp_path / "site"
    write_catalog_site(_graph(tmp_path), warehouse, out, now=NOW)

    page_a = (out / "runs" / "run-a.html").read_text()
    assert "Retried by <a href='run-b.html'" in page_a and "<a href='run-c.html'" in page_a
    assert "retry-of" not in page_a
    assert "../assets/marts__assignments.html" in page_a and "dbt error: boom" in page_a
    page_c = (out / "runs" / "run-c.html").read_text()
    assert "Retry of <a href='run-a.html'" in page_c and "retried-by" not in page_c
    index = (out / "index.html").read_text()
    assert "<table id='runs'>" in index and "href='runs/run-a.html'" in index
    mart = (out / "assets" / "marts__assignments.html").read_text()
    assert "href='../runs/run-c.html'" in mart  # the asset's history links its runs
    runs = {r["run_id"]: r for r in json.loads((out / "catalog.json").read_text())["runs"]}
    assert runs["run-a"]["retried_by"] == ["run-b", "run-c"] and runs["run-b"]["retry_of"] == "run-a"
