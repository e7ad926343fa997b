"""The gate with every real part: our dbt project and GX suites on the embedded Postgres, a real
Prefect API, and the EveryAction simulator's request log as the witness."""

import datetime as dt

import pytest

from assetgraph.config import load_settings
from assetgraph.execution import AssetStatus, check, materialize
from assetgraph.loader import load_project
from assetgraph.warehouse import connect
from flows.signups.sample_data import SampleConfig, generate
from sync.simulator.dev import start_local_simulator
from tests.conftest import REPO

SYNC = "sync/van_source_codes"
UNIQUE = "marts/van_source_code_assignments:gx_van_id_unique"
DBT_UNIQUE = "marts/van_source_code_assignments:unique_van_source_code_assignments_van_id"


@pytest.fixture
def pipeline(tmp_path, warehouse_env, monkeypatch, prefect_api):
    monkeypatch.setenv("SIGNUPS_DIR", str(tmp_path / "signups"))
    monkeypatch.delenv("EVERYACTION_API_URL", raising=False)
    monkeypatch.delenv("EVENTS_API_URL", raising=False)
    generate(tmp_path / "signups", SampleConfig(rows=600, days=3, seed=5, start=dt.date(2026, 11, 1)))
    project = load_project(load_settings(root=REPO))
    report = materialize(project, "+marts/van_source_code_assignments", warehouse=warehouse_env)
    assert report.succeeded, [(str(o.key), o.status, o.message) for o in report.outcomes]
    sim = start_local_simulator()
    for var in ("EVERYACTION_API_URL", "EVERYACTION_API_KEY", "EVERYACTION_DB"):
        monkeypatch.setenv(var, __import__("os").environ[var])
    yield project, warehouse_env, sim
    sim.stop()


def test_duplicate_van_id_blocks_the_sync_with_zero_requests(pipeline):
    project, wh, sim = pipeline
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("insert into marts.van_source_code_assignments"
                    " select * from marts.van_source_code_assignments order by van_id limit 1")
    checks = check(project, "marts/van_source_code_assignments", warehouse=wh)
    failed = [str(c.key) for o in checks.outcomes for c in o.checks if c.blocks]
    assert UNIQUE in failed and DBT_UNIQUE in failed  # GX and the dbt test both see it

    report = materialize(project, SYNC, warehouse=wh)
    (sync,) = report.outcomes
    assert sync.status is AssetStatus.SKIPPED and UNIQUE in sync.message
    assert sim.requests == []  # not one HTTP request reached EveryAction
    assert not report.succeeded

    # overriding one of the two failed checks is not enough
    report = materialize(project, SYNC, warehouse=wh, allow_failed_checks=[UNIQUE])
    assert not report.succeeded and DBT_UNIQUE in report.outcomes[0].message and sim.requests == []

    # an operator who has looked lets both through
    report = materialize(project, SYNC, warehouse=wh, allow_failed_checks=[UNIQUE, DBT_UNIQUE])
    assert report.succeeded and report.outcomes[0].row_count > 0
    assert len(sim.applications) == report.outcomes[0].row_count


def test_dbt_nodes_whose_gates_dbt_enforces_are_built_by_one_invocation(pipeline):
    project, wh, _ = pipeline
    report = materialize(project, "kind:dbt", warehouse=wh)
    assert report.succeeded, [(str(o.key), o.status, o.message) for o in report.outcomes]
    invocation = {str(o.key): o.metadata["dbt_invocation"] for o in report.outcomes}
    # every gate between the five is a dbt test, which dbt's build enforces itself: one build,
    # as `dbt build` would run it (the mart's GX suite and circuit breaker run after it)
    assert len(set(invocation.values())) == 1
    assert {o.metadata["dbt_nodes_in_invocation"] for o in report.outcomes} == {5}
    assert all(c.result.status.value == "passed" for o in report.outcomes for c in o.checks)

    # with the raw Python assets (landing, their GX suites) selected, staging waits for them:
    # the seed goes first on its own, the rest of the chain in the wave after the raw steps
    report = materialize(project, "+marts/van_source_code_assignments", warehouse=wh)
    assert report.succeeded
    invocation = {str(o.key): o.metadata.get("dbt_invocation") for o in report.outcomes}
    assert invocation["seeds/source_code_map"] < invocation["staging/stg_signups"]
    assert invocation["marts/van_source_code_assignments"] == invocation["intermediate/int_people_first_touch"]


def test_full_refresh_rebuilds_an_incremental_model_from_scratch(pipeline):
    project, wh, _ = pipeline
    stg = "staging/stg_signups"
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from staging.stg_signups")
        (rows,) = cur.fetchone()
    again = materialize(project, stg, warehouse=wh)
    (incremental,) = again.outcomes
    assert again.succeeded and incremental.row_count == 0  # nothing new landed: nothing rewritten
    assert "dbt_full_refresh" not in incremental.metadata

    report = materialize(project, stg, warehouse=wh, full_refresh=True)
    (full,) = report.outcomes
    assert report.succeeded and full.metadata["dbt_full_refresh"] is True
    assert full.row_count == rows > 0  # every row rebuilt
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("select count(*), count(distinct _built_at) from staging.stg_signups")
        assert cur.fetchone() == (rows, 1)  # one build wrote them all, so its tests read them all
