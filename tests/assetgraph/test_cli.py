"""The CLI against a second, unrelated dbt project (DBT_PROJECT_DIR), through a real Prefect API
and a real Postgres: list, lineage, materialize, status, check."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from assetgraph.cli import app
from assetgraph.warehouse import connect

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_list_json_in_graph_order(shop_env):
    code, output = invoke("list", "+reporting/revenue_by_country", "--json")
    assert code == 0, output
    rows = json.loads(output)
    keys = [r["key"] for r in rows]
    assert keys.index("shop_raw/orders") < keys.index("base/base_orders") < keys.index("reporting/revenue_by_country")
    assert set(keys) == {"shop_raw/orders", "base/base_orders", "seeds/countries", "reporting/revenue_by_country"}
    rev = rows[keys.index("reporting/revenue_by_country")]
    assert rev["kind"] == "dbt" and sorted(rev["deps"]) == ["base/base_orders", "seeds/countries"]
    assert {c["name"]: c["blocking"] for c in rev["checks"]}["not_null_revenue_by_country_revenue"] is False


def test_list_downstream_and_lineage(shop_env):
    code, output = invoke("list", "seeds/countries+", "--json")
    assert [r["key"] for r in json.loads(output)] == ["seeds/countries", "reporting/revenue_by_country"]
    code, output = invoke("lineage")
    assert code == 0
    assert "shop_raw/orders" in output and "revenue_by_country" in output


def test_unknown_key_suggests(shop_env):
    code, output = invoke("list", "reporting/revenue")
    assert code == 2
    assert "did you mean reporting/revenue_by_country" in output


def test_materialize_status_and_check_on_second_project(shop_env, prefect_api):
    code, output = invoke("status", "--json")
    before = {r["key"]: r for r in json.loads(output)}
    assert before["reporting/revenue_by_country"]["stale"] is True  # never materialized, 24 h policy
    assert before["base/base_orders"]["stale"] is None  # no freshness policy

    code, output = invoke("materialize", "+reporting/revenue_by_country")
    assert code == 0, output
    assert "succeeded" in output
    with connect(shop_env) as conn, conn.cursor() as cur:
        cur.execute("select country, revenue from shop.revenue_by_country order by 1")
        assert cur.fetchall() == [("Canada", 7), ("United States", 15)]
        cur.execute("select asset_key, status from asset_catalog.materializations order by 1")
        assert cur.fetchall() == [
            ("base/base_orders", "success"), ("reporting/revenue_by_country", "success"), ("seeds/countries", "success"),
        ]
        cur.execute("select count(*) from asset_catalog.check_results where status = 'passed'")
        assert cur.fetchone()[0] == 3
    code, output = invoke("status", "--json")
    assert code == 0
    status = {r["key"]: r for r in json.loads(output)}
    assert status["reporting/revenue_by_country"]["last_status"] == "success"
    assert status["reporting/revenue_by_country"]["stale"] is False
    assert status["shop_raw/orders"]["last_status"] is None

    # --full-refresh reaches dbt (a seed is reloaded, not appended to) and is recorded
    code, output = invoke("materialize", "seeds/countries", "--full-refresh")
    assert code == 0, output
    with connect(shop_env) as conn, conn.cursor() as cur:
        cur.execute("select cast(metadata as jsonb) ->> 'dbt_full_refresh' from asset_catalog.materializations"
                    " where asset_key = 'seeds/countries' order by finished_at")
        assert [r[0] for r in cur.fetchall()] == [None, "true"]

    # break the data: a country without a name makes the blocking not_null test fail
    with connect(shop_env) as conn, conn.cursor() as cur:
        cur.execute("insert into shop_shop_seeds.countries values ('MX', null)")
        cur.execute("insert into shop_raw.orders values (4, 'MX', 1)")
    code, output = invoke("materialize", "reporting/revenue_by_country")
    assert code == 1
    assert "not_null_revenue_by_country_country" in output
    code, output = invoke("check", "reporting/revenue_by_country")
    assert code == 1 and "fail" in output


def test_dry_run_changes_nothing(shop_env):
    code, output = invoke("materialize", "+reporting/revenue_by_country", "--dry-run")
    assert code == 0, output
    with connect(shop_env) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from information_schema.tables where table_schema = 'shop'")
        assert cur.fetchone()[0] == 0


def test_list_and_lineage_never_import_prefect_dbt_or_gx(shop_env):
    code = (
        "import sys\n"
        "from assetgraph.cli import app\n"
        "for args in (['list', '--json'], ['lineage']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit as e:\n"
        "        assert e.code in (0, None), e.code\n"
        "heavy = [m for m in ('prefect', 'dbt', 'great_expectations', 'pandas') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_bad_partition_is_a_clear_error(shop_env):
    code, output = invoke("materialize", "reporting/revenue_by_country", "--partition", "2026-13-01")
    assert code == 2 and "not a date" in output
