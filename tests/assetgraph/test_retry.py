"""`assetgraph retry` end to end: the second dbt project (real dbt, real Prefect API, the
embedded Postgres) and the toy Python graph; the catalog rows and dbt's own run results
(recorded per run in asset_catalog.runs.metadata) are the witnesses."""

import json

import pytest
from typer.testing import CliRunner

from assetgraph.catalog import parse_metadata
from assetgraph.cli import app
from assetgraph.execution import materialize
from assetgraph.execution.retry import load_retry, retry
from assetgraph.warehouse import connect
from tests.assetgraph.cases import toy_assets

runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def rows(wh, sql, *args):
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def run_rows(wh, run_id):
    return dict(rows(wh, "select asset_key, status from asset_catalog.materializations where run_id = %s", run_id))


def dbt_nodes_run(wh, run_id):
    """The models and seeds dbt executed in a run, from dbt's results recorded with the run."""
    ((meta,),) = rows(wh, "select metadata from asset_catalog.runs where run_id = %s", run_id)
    invocations = parse_metadata(meta)["dbt_invocations"]
    return {uid for i in invocations for uid in i["nodes"] if uid.split(".")[0] in ("model", "seed", "snapshot")}


@pytest.fixture
def shop(shop_env, tmp_path):
    """The second project with one more model below revenue_by_country."""
    project = tmp_path / "shop"
    (project / "models" / "reporting" / "top_country.sql").write_text(
        "select country from {{ ref('revenue_by_country') }} order by revenue desc limit 1\n"
    )
    return project, shop_env


def test_break_run_fix_retry_runs_only_the_failed_and_skipped_nodes(shop, prefect_api):
    project, wh = shop
    model = project / "models" / "base" / "base_orders.sql"
    good = model.read_text()
    model.write_text(good.replace("amount", "amount_typo"))
    code, output = invoke("materialize", "+reporting/top_country")
    assert code == 1, output
    ((first,),) = rows(wh, "select run_id from asset_catalog.runs")
    assert run_rows(wh, first) == {
        "seeds/countries": "success", "base/base_orders": "failed",
        "reporting/revenue_by_country": "skipped", "reporting/top_country": "skipped",
    }
    # a marker in the seed's table: reloading the seed would remove it
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("insert into shop_shop_seeds.countries values ('ZZ', 'marker')")

    model.write_text(good)  # the fix
    code, output = invoke("retry", "--dry-run")
    assert code == 0, output
    assert first in output and "base/base_orders" in output and "reporting/top_country" in output
    assert "seeds/countries" not in output.split("retry:")[1]
    assert "code changed since run" in output and "base/base_orders" in output
    assert len(rows(wh, "select run_id from asset_catalog.runs")) == 1  # a dry run records nothing

    code, output = invoke("retry")
    assert code == 0, output
    ((second, retry_of, trigger),) = rows(
        wh, "select run_id, retry_of, trigger from asset_catalog.runs where run_id <> %s", first
    )
    assert retry_of == first and trigger == "retry"
    assert run_rows(wh, second) == {
        "base/base_orders": "success", "reporting/revenue_by_country": "success", "reporting/top_country": "success",
    }
    # dbt itself ran exactly those nodes: never the seed that had succeeded
    assert dbt_nodes_run(wh, second) == {
        "model.shop.base_orders", "model.shop.revenue_by_country", "model.shop.top_country",
    }
    assert rows(wh, "select count(*) from shop_shop_seeds.countries where code = 'ZZ'") == [(1,)]
    assert rows(wh, "select country from shop.top_country") == [("United States",)]

    # the chain ended in success: nothing left to retry by default
    code, output = invoke("retry")
    assert code == 2 and "no failed run" in output and "Traceback" not in output


def test_retry_of_a_blocked_dbt_run_rechecks_and_runs_below_only(shop, prefect_api):
    project, wh = shop
    code, output = invoke("materialize", "+reporting/top_country")
    assert code == 0, output
    # bad data: a country without a name makes revenue_by_country's blocking not_null test fail
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("insert into shop_shop_seeds.countries values ('MX', null)")
        cur.execute("insert into shop_raw.orders values (9, 'MX', 1)")
    code, output = invoke("materialize", "reporting/revenue_by_country+")
    assert code == 1 and "not_null_revenue_by_country_country" in output
    ((blocked,),) = rows(wh, "select run_id from asset_catalog.runs where status = 'failed'")
    assert run_rows(wh, blocked) == {"reporting/revenue_by_country": "success", "reporting/top_country": "skipped"}

    with connect(wh) as conn, conn.cursor() as cur:  # the data is fixed where the check reads it
        cur.execute("delete from shop.revenue_by_country where country is null")
    code, output = invoke("retry", blocked)
    assert code == 0, output
    ((again,),) = rows(wh, "select run_id from asset_catalog.runs where retry_of = %s", blocked)
    # the check ran again, the model it checks did not, the model below it did
    assert run_rows(wh, again) == {"reporting/top_country": "success"}
    checks = dict(rows(wh, "select check_name, status from asset_catalog.check_results where run_id = %s"
                           " and asset_key = 'reporting/revenue_by_country'", again))
    assert checks == {"not_null_revenue_by_country_country": "passed"}
    assert dbt_nodes_run(wh, again) == {"model.shop.top_country"}


def test_unknown_run_id_is_one_clear_message(shop):
    code, output = invoke("retry", "no-such-run")
    assert code == 2
    assert "no run 'no-such-run' in the catalog" in output and "Traceback" not in output


def test_retry_after_a_blocking_check_runs_the_check_and_below_nothing_above(toy_project, warehouse, prefect_api):
    toy = toy_project
    report = materialize(toy, "+sync/codes", warehouse=warehouse, partitions=["2026-11-02"],
                         allow_failed_checks=["marts/assignments:volume_warning"])
    assert not report.succeeded and "sync/codes" not in toy_assets.CALLS
    toy_assets.CALLS.clear()
    toy_assets.CHECK_SHOULD_FAIL["value"] = False  # the data is fixed

    plan = load_retry(toy, warehouse)
    assert [(i.step_id, i.reason, i.recheck) for i in plan.items] == [
        ("marts/assignments", "check failed", ("van_id_unique",)), ("sync/codes", "skipped", ()),
    ]
    assert plan.allow_failed_checks == ("marts/assignments:volume_warning",)  # same overrides
    again = retry(toy, plan, warehouse=warehouse)
    assert again.succeeded
    assert toy_assets.CALLS == ["sync/codes"]  # neither raw/people nor marts/assignments ran
    assert run_rows(warehouse, again.run_id) == {"sync/codes": "success"}
    checks = rows(warehouse, "select check_name, status from asset_catalog.check_results where run_id = %s",
                  again.run_id)
    assert checks == [("van_id_unique", "passed")]
    ((retry_of, partitions, meta),) = rows(
        warehouse, "select retry_of, partitions, metadata from asset_catalog.runs where run_id = %s", again.run_id
    )
    assert retry_of == report.run_id
    assert json.loads(meta)["options"]["allow_failed_checks"] == ["marts/assignments:volume_warning"]
