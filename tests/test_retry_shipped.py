"""`retry` on the shipped pipeline (a copy of dbt_project/, our asset modules, sample data, the
embedded Postgres, a real Prefect API): break the intermediate model, run, fix, retry. Only the
failed and skipped nodes run; dbt's results recorded with the run and the new run's catalog rows
say so."""

import dataclasses
import datetime as dt
import shutil

from assetgraph.catalog import parse_metadata
from assetgraph.config import load_settings
from assetgraph.execution import AssetStatus, materialize
from assetgraph.execution.retry import load_retry, retry
from assetgraph.loader import load_project
from assetgraph.warehouse import connect
from flows.signups.sample_data import SampleConfig, generate
from tests.conftest import REPO

INT = "intermediate/int_people_first_touch"
MART = "marts/van_source_code_assignments"


def test_break_run_fix_retry_on_the_shipped_project(tmp_path, warehouse_env, monkeypatch, prefect_api):
    monkeypatch.setenv("SIGNUPS_DIR", str(tmp_path / "signups"))
    monkeypatch.delenv("EVERYACTION_API_URL", raising=False)
    monkeypatch.delenv("EVENTS_API_URL", raising=False)
    generate(tmp_path / "signups", SampleConfig(rows=300, days=2, seed=7, start=dt.date(2026, 11, 1)))
    dbt_dir = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", dbt_dir, ignore=shutil.ignore_patterns("target", "logs"))
    settings = dataclasses.replace(load_settings(root=REPO), dbt_project_dir=dbt_dir)
    model = dbt_dir / "models" / "intermediate" / "int_people_first_touch.sql"
    good = model.read_text()
    model.write_text(good.replace("select * from first_touches", "select * from no_such_cte"))
    assert model.read_text() != good

    first = materialize(load_project(settings), f"+{MART}", warehouse=warehouse_env)
    status = {str(o.key): o.status for o in first.outcomes}
    assert status[INT] is AssetStatus.FAILED and status[MART] is AssetStatus.SKIPPED
    succeeded = {k for k, s in status.items() if s is AssetStatus.SUCCESS}
    assert {"raw/signups", "staging/stg_signups", "seeds/source_code_map"} <= succeeded

    model.write_text(good)
    project = load_project(settings)
    plan = load_retry(project, warehouse_env)
    assert plan.run.run_id == first.run_id
    assert [(i.step_id, i.reason) for i in plan.items] == [(INT, "failed"), (MART, "skipped")]
    assert plan.changed and plan.changed[0].step_id == INT  # the fix changed the model's checksum
    again = retry(project, plan, warehouse=warehouse_env)
    assert again.succeeded, [(str(o.key), o.status, o.message) for o in again.outcomes]

    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("select asset_key, status from asset_catalog.materializations where run_id = %s", (again.run_id,))
        assert dict(cur.fetchall()) == {INT: "success", MART: "success"}
        cur.execute("select retry_of, metadata from asset_catalog.runs where run_id = %s", (again.run_id,))
        retry_of, meta = cur.fetchone()
        cur.execute("select count(*) from marts.van_source_code_assignments")
        assert cur.fetchone()[0] > 0
    assert retry_of == first.run_id
    ran = {uid for i in parse_metadata(meta)["dbt_invocations"] for uid in i["nodes"] if not uid.startswith(("test.", "unit_test."))}
    assert ran == {"model.pipeline.int_people_first_touch", "model.pipeline.van_source_code_assignments"}
