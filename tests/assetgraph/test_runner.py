"""Materialization through a real Prefect API and a real Postgres catalog."""

import pytest

from assetgraph.execution import AssetStatus, materialize
from assetgraph.warehouse import connect
from tests.assetgraph.cases import toy_assets


@pytest.fixture
def project(toy_project):
    return toy_project


def rows(wh, sql, *args):
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_failed_blocking_check_skips_downstream_and_is_recorded(project, warehouse, prefect_api):
    report = materialize(project, "+sync/codes", warehouse=warehouse, options={"retry_delay_seconds": 0})
    by_key = {str(o.key): o for o in report.outcomes}
    assert by_key["marts/assignments"].status is AssetStatus.SUCCESS
    assert [str(k) for k in by_key["marts/assignments"].blocked_by] == ["marts/assignments:van_id_unique"]
    assert by_key["sync/codes"].status is AssetStatus.SKIPPED
    assert "van_id_unique" in by_key["sync/codes"].message
    assert "sync/codes" not in toy_assets.CALLS  # the function was never called
    assert not report.succeeded

    checks = dict(rows(warehouse, "select check_name, status from asset_catalog.check_results where run_id = %s", report.run_id))
    assert checks["van_id_unique"] == "failed"
    assert checks["volume_warning"] == "failed"  # recorded, but it does not block
    mats = dict(rows(warehouse, "select asset_key, status from asset_catalog.materializations where run_id = %s", report.run_id))
    assert mats == {"raw/people": "success", "marts/assignments": "success", "sync/codes": "skipped"}
    (run_status, message), = rows(warehouse, "select status, message from asset_catalog.runs where run_id = %s", report.run_id)
    assert run_status == "failed" and "van_id_unique" in message


def test_override_lets_the_run_through_and_is_recorded(project, warehouse, prefect_api):
    report = materialize(
        project, "+sync/codes", warehouse=warehouse,
        allow_failed_checks=["marts/assignments:van_id_unique"],
    )
    assert report.succeeded
    assert "sync/codes" in toy_assets.CALLS
    (status, message), = rows(
        warehouse,
        "select status, message from asset_catalog.check_results where run_id = %s and check_name = 'van_id_unique'",
        report.run_id,
    )
    assert status == "overridden" and "--allow-failed-checks" in message


def test_retries_then_success(project, warehouse, prefect_api):
    toy_assets.CHECK_SHOULD_FAIL["value"] = False
    toy_assets.FLAKY["remaining_failures"] = 2
    report = materialize(project, "+sync/codes", warehouse=warehouse, options={"retry_delay_seconds": 0})
    assert report.succeeded
    assert toy_assets.CALLS.count("marts/assignments") == 3
    (attempts,), = rows(
        warehouse, "select attempts from asset_catalog.materializations where run_id = %s and asset_key = 'marts/assignments'",
        report.run_id,
    )
    assert attempts == 3


def test_a_deterministic_failure_is_not_retried(project, warehouse, prefect_api):
    """marts/assignments has retries=2; a ValueError fails the same way on every attempt."""
    toy_assets.CHECK_SHOULD_FAIL["value"] = False
    toy_assets.FLAKY.update(remaining_failures=2, deterministic=True)
    report = materialize(project, "+sync/codes", warehouse=warehouse, options={"retry_delay_seconds": 0})
    assert not report.succeeded
    assert toy_assets.CALLS.count("marts/assignments") == 1
    (attempts, message, meta), = rows(
        warehouse, "select attempts, message, metadata from asset_catalog.materializations "
                   "where run_id = %s and asset_key = 'marts/assignments'", report.run_id,
    )
    assert attempts == 1 and message == "ValueError: assignments.csv: column 'van_id' is not a number"
    assert '"transient": false' in meta


def test_failure_skips_downstream_with_a_clear_message(project, warehouse, prefect_api):
    report = materialize(project, "raw/broken+", warehouse=warehouse)
    by_key = {str(o.key): o for o in report.outcomes}
    assert by_key["raw/broken"].status is AssetStatus.FAILED
    assert "missing column 'email'" in by_key["raw/broken"].message
    assert by_key["marts/after_broken"].status is AssetStatus.SKIPPED
    assert "marts/after_broken" not in toy_assets.CALLS


def test_backfill_runs_each_partition_and_records_it(project, warehouse, prefect_api):
    toy_assets.CHECK_SHOULD_FAIL["value"] = False
    report = materialize(
        project, "raw/people+", warehouse=warehouse,
        partitions=["2026-11-01", "2026-11-02", "2026-11-03"],
    )
    assert report.succeeded
    assert sorted(c for c in toy_assets.CALLS if c.startswith("raw/people")) == [
        "raw/people[2026-11-01]", "raw/people[2026-11-02]", "raw/people[2026-11-03]",
    ]
    assert toy_assets.CALLS.count("marts/assignments") == 1  # unpartitioned: once, after all
    parts = rows(
        warehouse,
        "select partition_key from asset_catalog.materializations where run_id = %s and asset_key = 'raw/people' order by 1",
        report.run_id,
    )
    assert [p for (p,) in parts] == ["2026-11-01", "2026-11-02", "2026-11-03"]


def test_dry_run_calls_only_dry_run_aware_assets(project, warehouse):
    report = materialize(project, "+sync/codes", warehouse=warehouse, dry_run=True)
    assert toy_assets.CALLS == []
    sync = [o for o in report.outcomes if str(o.key) == "sync/codes"][0]
    assert sync.status is AssetStatus.DRY_RUN and sync.metadata == {"would_apply": 7}


def test_a_node_dbt_skipped_names_what_failed_before_it():
    from assetgraph.execution._dbt import DbtNodeResult, DbtRunResult
    from assetgraph.execution.steps import _why_dbt_skipped

    unit = DbtNodeResult("unit_test.p.stg.t1", "unit_test", "error", "Compilation Error in model stg\n...", None, None, 0.1)
    model = DbtNodeResult("model.p.stg", "model", "skipped", "", None, None, 0.0)
    related = {unit.unique_id, model.unique_id}
    why = _why_dbt_skipped(DbtRunResult(False, (unit, model)), related)
    assert why.startswith("after unit_test.p.stg.t1 error: Compilation Error in model stg")
    assert _why_dbt_skipped(DbtRunResult(False, (model,)), related) == "dbt gave no reason"
    # in a wave's run, another asset's error is not named while this asset's own is
    other = DbtNodeResult("model.p.other", "model", "error", "Database Error in model other", None, None, 0.1)
    why = _why_dbt_skipped(DbtRunResult(False, (other, unit, model)), related)
    assert "unit_test.p.stg.t1" in why and "model.p.other" not in why


def test_materialize_runs_from_a_caller_that_already_runs_an_event_loop(project, warehouse, prefect_api):
    """A notebook or an async caller: the flow runs to its end all the same."""
    import asyncio

    async def caller():
        return materialize(project, "+sync/codes", warehouse=warehouse, options={"retry_delay_seconds": 0},
                           allow_failed_checks=["marts/assignments:van_id_unique"])

    report = asyncio.run(caller())
    assert report.succeeded and {str(o.key) for o in report.outcomes} >= {"sync/codes"}
    assert rows(warehouse, "select status from asset_catalog.runs where run_id = %s", report.run_id) == [("success",)]
