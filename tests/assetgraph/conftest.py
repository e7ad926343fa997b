"""Fixtures shared by the asset-layer tests: the toy Python graph and the second dbt project."""

import pytest

from assetgraph.config import Settings
from assetgraph.loader import load_project
from assetgraph.warehouse import connect
from tests.assetgraph.cases import toy_assets
from tests.assetgraph.cases.second_project import use_project, write_project


@pytest.fixture
def toy_project(tmp_path):
    """The toy graph (tests/assetgraph/cases/toy_assets.py) with its switches reset."""
    settings = Settings(
        root=tmp_path, modules=("tests.assetgraph.cases.toy_assets",), dbt_project_dir=None,
        dbt_profiles_dir=tmp_path, dbt_target="dev",
    )
    toy_assets.CALLS.clear()
    toy_assets.FLAKY["remaining_failures"] = 0
    toy_assets.FLAKY["deterministic"] = False
    toy_assets.CHECK_SHOULD_FAIL["value"] = True
    return load_project(settings)


@pytest.fixture
def shop_env(tmp_path, warehouse_env, monkeypatch):
    """The second dbt project (tmp_path/shop) in use, its raw table filled; the warehouse."""
    use_project(monkeypatch, write_project(tmp_path / "shop"), tmp_path)
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("create schema shop_raw")
        cur.execute("create table shop_raw.orders (id int, country text, amount numeric)")
        cur.execute("insert into shop_raw.orders values (1, 'US', 10), (2, 'US', 5), (3, 'CA', 7)")
    return warehouse_env


