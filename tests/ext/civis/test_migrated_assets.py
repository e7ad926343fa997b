"""The migrated code runs: dbt builds the migrated models with their inferred tests on the
embedded warehouse, and a migrated Python script logs through the run logger and reads its
credential through the project's secret lookup."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from assetgraph.dbt.project import dbt_env, dbt_executable
from tests.ext.civis import import_corpus as corpus
from tests.ext.civis.test_verify import make_live
from tests.ext.civis.import_fixtures import imported  # noqa: F401 (pytest fixtures)


def test_dbt_builds_the_migrated_models_and_their_inferred_tests(imported, warehouse_env):
    root, _, _ = imported
    make_live(warehouse_env)
    models = [k.split("/")[1] for k in corpus.VERIFIABLE]
    proc = subprocess.run(
        [dbt_executable(), "build", "--project-dir", str(root / "dbt_project"), "--profiles-dir",
         str(root / "profiles"), "--select", *models, "--target-path", str(root / "target-build")],
        env=dbt_env(warehouse_env.dbt_env()), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "unique_people_person_id" in proc.stdout  # an inferred test ran
    assert "ERROR=0" in proc.stdout.replace(" ", "")


@pytest.fixture
def civis_flows(imported, monkeypatch):
    root, _, _ = imported
    monkeypatch.syspath_prepend(str(root))
    for name in [m for m in sys.modules if m == "flows" or m.startswith("flows.")]:
        monkeypatch.delitem(sys.modules, name)
    yield root
    for name in [m for m in sys.modules if m == "flows" or m.startswith("flows.")]:
        sys.modules.pop(name, None)


def _context(key, options, caplog):
    from assetgraph.definitions import AssetContext
    from assetgraph.keys import AssetKey

    return AssetContext(key=AssetKey.from_coercible(key), run_id="r1", warehouse=None,
                        log=logging.getLogger("civis-test"), options=options)


def test_a_migrated_python_script_logs_and_reads_its_secret(civis_flows, monkeypatch, caplog):
    import importlib

    module = importlib.import_module("flows.civis.hello_hourly")
    monkeypatch.setenv("SMTP", "s3cr3t-value")
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    with caplog.at_level(logging.INFO, logger="civis-test"):
        module.hello_hourly(_context("civis/hello_hourly", {"GREETING": "hi there"}, caplog))
    assert "greeting hi there with secret" in caplog.text  # print -> run logger, param -> config
    assert "s3cr3t-value" not in caplog.text
    with caplog.at_level(logging.INFO, logger="civis-test"):
        module.hello_hourly(_context("civis/hello_hourly", {}, caplog))
    assert "greeting hello with secret" in caplog.text  # the Civis default


def test_a_missing_secret_is_one_clear_error(civis_flows, monkeypatch, caplog):
    import importlib

    from assetgraph.ext.civis.runtime import MissingSecretError

    module = importlib.import_module("flows.civis.hello_hourly")
    monkeypatch.delenv("SMTP", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(MissingSecretError) as info:
        module.hello_hourly(_context("civis/hello_hourly", {}, caplog))
    assert str(info.value) == ("secret 'SMTP' (password) is not set: set the environment variable SMTP "
                               "or create a Prefect Secret block 'smtp'")


def test_stub_assets_fail_until_ported(civis_flows, caplog):
    import importlib

    module = importlib.import_module("flows.civis.donor_export_to_s3")
    with pytest.raises(NotImplementedError, match='sql script 108 "Donor export to S3" is not ported yet: UNLOAD'):
        module.donor_export_to_s3(_context("civis/donor_export_to_s3", {}, caplog))
    assert "UNLOAD ('select * from analytics.big_donors')" in module.ORIGINAL
    container = importlib.import_module("flows.civis.score_people")
    assert container.IMAGE == "civisanalytics/datascience-python:7.1.0"


def test_the_asset_layer_lists_and_materializes_the_migrated_models(imported, warehouse_env, monkeypatch,
                                                                   prefect_api):
    """import -> dbt parse -> `assetgraph materialize` on the embedded warehouse."""
    import json

    from typer.testing import CliRunner

    from assetgraph.cli import app
    from assetgraph.warehouse import connect

    root, _, _ = imported
    monkeypatch.setenv("DBT_PROJECT_DIR", str(root / "dbt_project"))
    monkeypatch.setenv("DBT_PROFILES_DIR", str(root / "profiles"))
    monkeypatch.setenv("ASSETGRAPH_MODULES", "")
    monkeypatch.setenv("ASSETGRAPH_HOME", str(root))
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("create schema raw")
        for table, (cols, rows) in corpus.RAW_TABLES.items():
            cur.execute(f"create table {table} ({cols})")
            for row in rows:
                cur.execute(f"insert into {table} values ({', '.join(['%s'] * len(row))})", row)
    runner = CliRunner()
    listed = runner.invoke(app, ["list", "tag:civis", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["key"]: r for r in json.loads(listed.output)}
    assert {k for w in corpus.EXPECTED.values() for k in w["models"]} == set(rows)
    # raw.donations is the source; people comes from the workflow's task order
    assert sorted(rows["analytics/donor_totals"]["deps"]) == ["analytics/people", "raw/donations"]
    assert "analytics/donor_totals" in rows["analytics/big_donors"]["deps"]

    result = runner.invoke(app, ["materialize", "+analytics/big_donors analytics/daily_signups"])
    assert result.exit_code == 0, result.output
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("select person_id, total_amount from analytics.big_donors order by 1")
        assert [(p, float(t)) for p, t in cur.fetchall()] == [(1, 125.0), (4, 250.0)]
        cur.execute("select asset_key, status from asset_catalog.materializations"
                    " where asset_key like 'analytics/%%' order by 1")
        assert cur.fetchall() == [("analytics/big_donors", "success"), ("analytics/daily_signups", "success"),
                                  ("analytics/donor_totals", "success"), ("analytics/people", "success")]
