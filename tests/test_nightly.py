"""`make nightly`'s entry point, end to end, twice, as a user runs it: a subprocess with its own
(temporary) Prefect server, the real warehouse, real dbt, real GX and the EveryAction simulator."""

import os
import subprocess
import sys

from assetgraph.warehouse import connect
from tests.conftest import REPO

ASSETS = [
    "raw/signups", "raw/event_attendances", "seeds/source_code_map", "sync/van_sync_ledger",
    "staging/stg_signups", "staging/stg_event_attendances", "intermediate/int_people_first_touch",
    "marts/van_source_code_assignments", "sync/van_source_codes",
]


def _nightly(env):
    return subprocess.run(
        [sys.executable, "-m", "flows.nightly"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )


def test_nightly_twice_end_to_end(tmp_path, warehouse_env):
    env = {
        **os.environ,
        "SIGNUPS_DIR": str(tmp_path / "signups"),
        "ASSETGRAPH_REPORTS_DIR": str(tmp_path / "reports"),
        "NIGHTLY_SAMPLE_ROWS": "3000",
    }
    env.pop("EVERYACTION_API_URL", None)
    env.pop("PREFECT_API_URL", None)

    first = _nightly(env)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-4000:]
    for key in ASSETS:
        assert key in output, f"{key} missing from the summary"
    assert "Traceback" not in output, output[-4000:]
    assert "Error" not in output.replace("error_", ""), output[-4000:]
    catalog = tmp_path / "reports" / "catalog"
    index = (catalog / "index.html").read_text()
    assert f"catalog page:        {(catalog / 'index.html').resolve().as_uri()}" in output
    for key in ASSETS:
        assert f"data-key='{key}'" in index, f"{key} not drawn on the catalog page"
    assert "href='../quality/quality-" in index  # the data-quality report is one click away
    mart = (catalog / "assets" / "marts__van_source_code_assignments.html").read_text()
    assert "Compiled SQL" in mart and "int_people_first_touch" in mart  # dbt's compiled SQL, refs resolved
    sync_page = (catalog / "assets" / "sync__van_source_codes.html").read_text()
    assert "<th>applied</th>" in sync_page and "<th>failed</th>" in sync_page
    # the sample data has signups without an email: a warn-severity dbt test fails, visibly,
    # and blocks nothing (the run above succeeded through to the sync)
    assert "not_null_stg_signups_email (warn, dbt): failed" in output
    assert list((tmp_path / "reports" / "quality").glob("quality-*.html"))

    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from marts.van_source_code_assignments")
        assigned = cur.fetchone()[0]
        cur.execute("select count(*), count(distinct van_id) from sync.van_sync_ledger where status = 'applied'")
        applied, distinct = cur.fetchone()
        assert applied > 100 and applied == distinct == assigned  # every assignment applied, once
        cur.execute(
            "select row_count from asset_catalog.materializations"
            " where asset_key = 'intermediate/int_people_first_touch' order by finished_at"
        )
        first_rows = [r[0] for r in cur.fetchall()]

    second = _nightly(env)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-4000:]
    assert "Traceback" not in output
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute(
            "select row_count from asset_catalog.materializations"
            " where asset_key = 'intermediate/int_people_first_touch' order by finished_at"
        )
        rows = [r[0] for r in cur.fetchall()]
        assert len(rows) == 2
        # the second night has ~1 % new signups: the incremental model touches only those people
        assert rows[1] < first_rows[0] / 10, rows
        cur.execute("select count(*) from marts.van_source_code_assignments")
        assigned2 = cur.fetchone()[0]
        cur.execute("select count(*), count(distinct van_id) from sync.van_sync_ledger where status = 'applied'")
        applied2, distinct2 = cur.fetchone()
        # the second mart left out everyone already applied: only the new people were sent
        assert 0 < assigned2 < assigned / 10
        assert applied2 == distinct2 == applied + assigned2  # nothing applied twice
        # the incremental models' dbt tests (the mart's too) read only the rows each night's
        # build wrote (their _built_at); the others read the whole relation
        cur.execute("select distinct asset_key, cast(metadata as jsonb) ->> 'validated'"
                    " from asset_catalog.check_results where source = 'dbt' and asset_key not like 'raw/%'")
        assert set(cur.fetchall()) == {
            ("staging/stg_signups", "staging.stg_signups, the rows this build wrote"),
            ("intermediate/int_people_first_touch", "intermediate.int_people_first_touch, the rows this build wrote"),
            ("staging/stg_event_attendances", "staging.stg_event_attendances"),
            ("marts/van_source_code_assignments", "marts.van_source_code_assignments, the rows this build wrote"),
            ("seeds/source_code_map", "seeds.source_code_map"),
        }
    # ...and dbt did scope them: the SQL it compiled for the second night's tests
    compiled = [f for f in (REPO / "dbt_project" / "target" / "compiled" / "pipeline").glob("models/*/stg_signups.yml/*.sql")
                if f.name.startswith(("not_null_", "unique_", "row_condition_"))]
    assert len(compiled) == 7 and all('"_built_at" = cast(' in f.read_text() for f in compiled)
