"""`materialize --defer --state DIR`: a model built in a dev schema reads the upstream relation
of the state's run (a second schema in the embedded warehouse plays prod). Real dbt, real
Prefect API."""

import shutil

from typer.testing import CliRunner

from assetgraph.cli import app
from assetgraph.warehouse import connect
from tests.assetgraph.cases.second_project import use_project, write_project

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_defer_builds_against_the_states_upstream_relation(tmp_path, warehouse_env, monkeypatch, prefect_api):
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("create schema shop_raw")
        cur.execute("create table shop_raw.orders (id int, country text, amount numeric)")
        cur.execute("insert into shop_raw.orders values (1, 'US', 10), (2, 'CA', 7)")

    prod = write_project(tmp_path / "prod", schema="prodshop")
    use_project(monkeypatch, prod, tmp_path)
    code, output = invoke("materialize", "+reporting/revenue_by_country")
    assert code == 0, output
    state = tmp_path / "prod-state"
    shutil.copytree(prod / "target", state)
    # prod's base_orders now holds data the raw table does not: only a deferred ref can see it
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("create or replace view prodshop.base_orders as"
                    " select 1 as id, cast('US' as text) as country, cast(100 as numeric) as amount")

    dev = write_project(tmp_path / "dev", schema="devshop")
    use_project(monkeypatch, dev, tmp_path)
    code, output = invoke("materialize", "reporting/revenue_by_country", "--defer", "--state", str(state))
    assert code == 0, output
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("select country, revenue from devshop.revenue_by_country")
        assert cur.fetchall() == [("United States", 100)]
        cur.execute("select count(*) from information_schema.tables where table_schema = 'devshop'")
        assert cur.fetchone()[0] == 1  # only the selected model was built in dev
        cur.execute("select metadata from asset_catalog.runs order by started_at desc limit 1")
        assert str(state) in cur.fetchone()[0]  # recorded, so a retry defers the same way
