"""The dbt manifest becomes assets and checks; keys do not depend on the target."""

import json

import pytest

from assetgraph.config import Settings
from assetgraph.dbt.manifest import assets_from_manifest, load_manifest
from assetgraph.dbt.project import ensure_manifest, manifest_is_stale
from assetgraph.errors import ManifestError
from assetgraph.loader import load_project
from tests.assetgraph.cases.second_project import write_project
from tests.conftest import REPO


def _keys_for_target(project_dir, profiles_dir, target):
    path = ensure_manifest(project_dir, profiles_dir, target, force=True)
    data = load_manifest(path)
    assets = assets_from_manifest(data)
    return {str(s.key) for s in assets.specs}, {str(c.key) for c in assets.checks}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return write_project(tmp_path_factory.mktemp("shop"))


def test_keys_identical_for_dev_and_prod_targets_second_project(shop):
    dev = _keys_for_target(shop, shop, "dev")
    prod = _keys_for_target(shop, shop, "prod")
    assert dev == prod
    assert dev[0] == {"base/base_orders", "reporting/revenue_by_country", "seeds/countries", "shop_raw/orders"}


def test_keys_identical_for_dev_and_prod_targets_shipped_project(tmp_path):
    import shutil

    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    dev = _keys_for_target(project, REPO / "profiles", "dev")
    prod = _keys_for_target(project, REPO / "profiles", "prod")
    assert dev == prod
    assert "marts/van_source_code_assignments" in dev[0]
    assert "raw/signups" in dev[0]


def test_checks_attach_to_models_with_severity(shop):
    path = ensure_manifest(shop, shop, "dev")
    assets = assets_from_manifest(load_manifest(path))
    checks = {str(c.key): c for c in assets.checks}
    assert checks["reporting/revenue_by_country:unique_revenue_by_country_country"].blocking
    assert not checks["reporting/revenue_by_country:not_null_revenue_by_country_revenue"].blocking


def test_source_maps_onto_a_python_asset_with_the_same_key(shop, tmp_path):
    mod = tmp_path / "shop_extract.py"
    mod.write_text(
        "from assetgraph import asset\n"
        "@asset('shop_raw/orders', tags=['nightly'])\n"
        "def orders(context):\n    return None\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        settings = Settings(root=tmp_path, modules=("shop_extract",), dbt_project_dir=shop,
                            dbt_profiles_dir=shop, dbt_target="dev")
        project = load_project(settings)
    finally:
        sys.path.remove(str(tmp_path))
    spec = project.graph.spec(next(k for k in project.graph.keys if str(k) == "shop_raw/orders"))
    assert spec.kind.value == "python"
    child = next(k for k in project.graph.keys if str(k) == "base/base_orders")
    assert [str(p) for p in project.graph.parents(child)] == ["shop_raw/orders"]


def test_manifest_reparsed_only_when_stale(shop):
    ensure_manifest(shop, shop, "dev")
    assert not manifest_is_stale(shop, shop)
    import os, time

    manifest = shop / "target" / "manifest.json"
    earlier = time.time() - 3600
    os.utime(manifest, (earlier, earlier))  # as if a model was edited after the last parse
    assert manifest_is_stale(shop, shop)
    ensure_manifest(shop, shop, "dev")
    assert not manifest_is_stale(shop, shop)


def test_bad_manifest_is_a_clear_error(tmp_path):
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    with pytest.raises(ManifestError) as info:
        load_manifest(bad)
    assert str(bad) in str(info.value)
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ManifestError, match="no 'nodes'"):
        load_manifest(bad)


def _model(name, fqn, meta=None):
    return {"resource_type": "model", "name": name, "fqn": fqn, "config": {"meta": meta or {}},
            "depends_on": {"nodes": []}}


def test_root_level_model_is_keyed_by_its_name():
    manifest = {"nodes": {
        "model.shop.customers": _model("customers", ["shop", "customers"]),
        "model.shop.stg_orders": _model("stg_orders", ["shop", "staging", "orders", "stg_orders"]),
        "model.shop.legacy": _model("legacy", ["shop", "legacy"], {"assetgraph": {"key": "models/legacy"}}),
    }}
    specs = {str(s.key): s for s in assets_from_manifest(manifest).specs}
    assert set(specs) == {"customers", "staging/stg_orders", "models/legacy"}  # meta.assetgraph.key still wins
    assert specs["customers"].group == "default" and specs["staging/stg_orders"].group == "staging"


def _readme_migration_sql() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Asset keys of dbt models"):]
    return section[section.index("```sql") + len("```sql"):section.index("```", section.index("```sql") + 6)]


def test_readme_key_migration_renames_old_root_level_keys(warehouse):
    """The README's SQL moves a root-level model's catalog history from `models/<name>` to
    `<name>`, and leaves other keys alone."""
    import datetime as dt

    from assetgraph import catalog
    from assetgraph.warehouse import connect

    catalog.ensure_catalog(warehouse)
    at = dt.datetime(2026, 11, 1)
    for key in ("models/customers", "models/orders", "marts/orders"):
        catalog.record_materialization(warehouse, run_id="r1", asset_key=key, partition_key=None,
                                       status="success", started_at=at, finished_at=at)
        catalog.record_check(warehouse, run_id="r1", asset_key=key, check_name="unique_id",
                             partition_key=None, source="dbt", blocking=True, status="passed")
    with connect(warehouse) as conn, conn.cursor() as cur:
        for statement in _readme_migration_sql().split(";"):
            if statement.strip():
                cur.execute(statement)
        conn.commit()
        for table in ("materializations", "check_results"):
            cur.execute(f"select asset_key from asset_catalog.{table} order by 1")
            assert [r[0] for r in cur.fetchall()] == ["customers", "marts/orders", "orders"]
