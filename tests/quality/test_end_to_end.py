"""The gate inside a real run: a failed blocking GX check skips the sync (never called),
the operator override lets it through, and the report reads the real catalog rows."""

from __future__ import annotations

from assetgraph.config import Settings
from assetgraph.execution import AssetStatus, materialize
from assetgraph.loader import load_project
from quality.report import build_report
from tests.quality import toy_pipeline
from tests.quality.conftest import sql

UNIQUE = "marts/van_source_code_assignments:gx_van_id_unique"


def test_failed_gx_check_blocks_the_sync_and_override_releases_it(contract, prefect_api, tmp_path):
    settings = Settings(
        root=tmp_path, modules=("tests.quality.toy_pipeline", "quality.checks"),
        dbt_project_dir=None, dbt_profiles_dir=tmp_path, dbt_target="dev",
    )
    project = load_project(settings)
    toy_pipeline.CALLS.clear()
    toy_pipeline.INJECT_DUPLICATE["value"] = True

    report = materialize(project, "+sync/van_source_codes", warehouse=contract)
    by_key = {str(o.key): o for o in report.outcomes}
    assert not report.succeeded
    assert by_key["sync/van_source_codes"].status is AssetStatus.SKIPPED
    assert toy_pipeline.CALLS == []  # zero calls towards EveryAction
    assert [str(k) for k in by_key["marts/van_source_code_assignments"].blocked_by] == [UNIQUE]
    rows = dict(sql(contract, "select check_name, source || ':' || status from asset_catalog.check_results"
                              " where run_id = %s and asset_key = 'marts/van_source_code_assignments'",
                    (report.run_id,)))
    assert rows["gx_van_id_unique"] == "gx:failed"
    assert rows["volume_circuit_breaker"] == "python:passed"
    page = build_report(contract, report.run_id, tmp_path / "reports").read_text()
    assert "gx_van_id_unique" in page and "Blocking checks did not pass" in page

    toy_pipeline.INJECT_DUPLICATE["value"] = False
    again = materialize(project, "+sync/van_source_codes", warehouse=contract, allow_failed_checks=[UNIQUE])
    assert again.succeeded and toy_pipeline.CALLS == ["sync/van_source_codes"]
    (status,), = sql(contract, "select status from asset_catalog.check_results where run_id = %s"
                               " and check_name = 'gx_van_id_unique'", (again.run_id,))
    assert status == "overridden"
