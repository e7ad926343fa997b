"""The whole move, as a team runs it: `.venv/bin/assetgraph` subprocesses in a copy of this
template, the real civis-python client against the fake Civis API on 127.0.0.1 (seeded with the
hand-written corpus), real dbt, the real embedded Postgres and a real local Prefect server.

export -> import -> dbt parse -> materialize (dev database) -> verify (the "prod" database,
where the live tables are made by running each original Civis script, transpiled to Postgres)
-> a live table drifts, verify fails naming the model -> archive unschedules only the objects
whose last verify passed, shown by the fake's request log.

Two databases on one server stand for dev (where `materialize` builds) and prod (where Civis
wrote the live tables that verify compares with). Nothing is mocked.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from assetgraph.dbt.project import dbt_env, dbt_executable
from assetgraph.ext.civis.contract import REPORT_PATH, read_report
from assetgraph.ext.civis.fake import FakeCivis
from assetgraph.warehouse import Warehouse, connect
from tests.conftest import REPO
from tests.ext.civis import import_corpus as corpus
from tests.ext.civis.import_fixtures import copy_project
from tests.ext.civis.test_verify import land_raw, make_live

ASSETGRAPH = Path(sys.executable).parent / "assetgraph"
# What the shipped template schedules hourly for freshness (`tag:nightly`): importing Civis
# models must not change it.
SHIPPED_NIGHTLY = {
    "raw/signups", "raw/event_attendances", "seeds/source_code_map", "staging/stg_signups",
    "staging/stg_event_attendances", "intermediate/int_people_first_touch",
    "marts/van_source_code_assignments", "sync/van_source_codes",
}
# Every migrated dbt model: the models the corpus says each SQL script becomes.
MODELS = {k for e in corpus.EXPECTED.values() for k in e["models"]}
PYTHON_KEYS = {"civis/push_signups_to_van", "civis/hello_hourly", "civis/score_people"}
STUB_KEYS = {e["stub"] for e in corpus.EXPECTED.values() if e.get("stub")}
SECRET_VALUE = "smtp-s3cr3t-e2e"
LIST_IMPORTS = """\
import sys
from assetgraph.cli import app
try:
    app(["list", "tag:civis", "--json"])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
heavy = [m for m in ("prefect", "dbt", "great_expectations", "pandas", "civis", "parsons") if m in sys.modules]
print("HEAVY", heavy)
"""


@pytest.fixture(scope="module")
def prefect_url(tmp_path_factory):
    from assetgraph.devserver import local_prefect_server

    with local_prefect_server(tmp_path_factory.mktemp("prefect-home")) as url:
        yield url


@contextmanager
def second_database(server: Warehouse):
    """One more fresh database on the session's server (the prod warehouse of this story)."""
    import psycopg2

    name = "live_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(**server.dsn_kwargs())
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{name}"')
        yield dataclasses.replace(server, dbname=name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def _url(wh: Warehouse) -> str:
    return f"postgresql://{wh.user}@localhost:{wh.port}/{wh.dbname}?host={wh.host}"


def template_copy(dest: Path) -> Path:
    """The template as a team's repo: dbt project, profiles, pyproject, scheduling.py, and the
    project code its [tool.assetgraph] modules name (its own `flows` package, so the import's
    flows/civis/ lands in it)."""
    copy_project(dest)
    for name in ("flows", "sync", "quality"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def run(root: Path, env: dict[str, str], *args: str, traceback_ok: bool = False) -> subprocess.CompletedProcess:
    """`assetgraph ARGS` in the project. Only a failing asset may print a traceback (Prefect logs
    the exception of a failed task run); every command's own error is one line."""
    proc = subprocess.run([str(ASSETGRAPH), *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=1200)
    if not traceback_ok:
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def listed(root: Path, env: dict[str, str], selection: str) -> dict[str, list[str]]:
    proc = run(root, env, "list", selection, "--json")
    assert proc.returncode == 0, proc.stderr
    return {a["key"]: a["tags"] for a in json.loads(proc.stdout)}


def land_dev(wh: Warehouse) -> None:
    """What the Civis import (Dbsync) and the COPY script land, in the dev database."""
    with connect(wh) as conn, conn.cursor() as cur:
        land_raw(cur)
        cur.execute("create table raw.vendor_list (vendor_name varchar(64), vendor_code varchar(64))")
        cur.execute("insert into raw.vendor_list values ('Vendor A', 'vendor_a')")


def rows(wh: Warehouse, sql: str) -> list[tuple]:
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_a_civis_estate_moves_end_to_end(tmp_path, pg_server, warehouse, prefect_url):
    dev = warehouse
    root = template_copy(tmp_path / "project")
    export_dir = tmp_path / "civis-export"
    seed = corpus.write_export(tmp_path / "seed")
    with FakeCivis.from_directory(seed) as fake, second_database(pg_server) as live:
        env = {k: v for k, v in os.environ.items()
               if k not in ("DBT_PROJECT_DIR", "DBT_PROFILES_DIR", "ASSETGRAPH_MODULES", "ASSETGRAPH_HOME")}
        # the copy's own packages (flows, sync, quality) before the repo's on the venv's path
        env.update(fake.env(), PYTHONPATH=str(root), PREFECT_API_URL=prefect_url, WAREHOUSE_URL=_url(dev))
        nightly_before = listed(root, env, "tag:nightly")
        assert set(nightly_before) == SHIPPED_NIGHTLY

        # 1. export: one file per object, the API's body, read through civis-python
        proc = run(root, env, "civis", "export", str(export_dir))
        assert proc.returncode == 0, proc.stderr
        seeded = {p.relative_to(seed): json.loads(p.read_text()) for p in seed.rglob("*.json")}
        exported = {p.relative_to(export_dir): json.loads(p.read_text()) for p in export_dir.rglob("*.json")}
        assert exported == seeded
        assert fake.calls("GET", "/scripts/sql/") and not fake.calls("PATCH") and not fake.calls("PUT")

        # 2. import into the project; the template loads flows.civis.* without a hand step
        proc = run(root, env, "civis", "import", str(export_dir))
        assert proc.returncode == 0, proc.stderr
        assert "21 Civis object(s)" in proc.stdout
        assert "[tool.assetgraph] modules" not in proc.stdout  # nothing left for the user to add
        objects = {(o.type, o.id): o for o in read_report(root / REPORT_PATH)}  # what archive reads
        assert len(objects) == 21
        for id_, expected in corpus.EXPECTED.items():
            keys = set(objects[("sql", id_)].keys)
            assert set(expected["models"]) <= keys and (not expected.get("stub") or expected["stub"] in keys)
            assert bool(objects[("sql", id_)].needs_attention) == bool(expected["attention"]), id_
        again = run(root, env, "civis", "import", str(export_dir))
        assert again.returncode == 0 and "(nothing changed)" in again.stdout

        # 3. dbt parse: the migrated models are in the manifest, tagged civis only
        parse = subprocess.run(
            [dbt_executable(), "parse", "--project-dir", str(root / "dbt_project"),
             "--profiles-dir", str(root / "profiles")],
            cwd=root, env=dbt_env(placeholders=True), capture_output=True, text=True, timeout=900)
        assert parse.returncode == 0, parse.stdout[-3000:]
        manifest = json.loads((root / "dbt_project/target/manifest.json").read_text())
        migrated = {n["name"]: n["tags"] for n in manifest["nodes"].values()
                    if n["resource_type"] == "model" and n["fqn"][1] == "analytics"}
        assert {k.split("/")[1] for k in MODELS} == set(migrated)
        assert all(tags == ["civis"] for tags in migrated.values()), migrated

        # the graph: every migrated asset, Python ones included; the nightly selection unchanged
        civis = listed(root, env, "tag:civis")
        assert set(civis) == MODELS | PYTHON_KEYS | STUB_KEYS
        assert all(tags == ["civis"] for tags in civis.values()), civis
        assert listed(root, env, "tag:nightly") == nightly_before
        # every generated schedule selects assets that are in the graph (the Python one too)
        schedules = {o.schedule["name"]: o.schedule["selection"] for o in objects.values() if o.schedule}
        assert "civis-python3-202-hello-hourly" in schedules
        for name, selection in schedules.items():
            assert set(selection.split()) <= set(civis), name
        # loading the migrated modules keeps `list` light: their code runs only when materialized
        light = subprocess.run([sys.executable, "-c", LIST_IMPORTS], cwd=root, env=env, capture_output=True,
                               text=True, timeout=600)
        assert light.returncode == 0, light.stderr[-3000:]
        assert "civis/hello_hourly" in light.stdout and "HEAVY []" in light.stdout

        # 4. materialize the models on the embedded warehouse (dev), through Prefect
        land_dev(dev)
        proc = run(root, env, "materialize", "kind:dbt and tag:civis")
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        for key in MODELS:
            assert key in proc.stdout + proc.stderr
        assert rows(dev, "select count(*) from analytics.people") == [(5,)]
        assert rows(dev, "select vendor_name, people from analytics.vendor_counts") == [("Vendor A", 2)]
        # a migrated Python script runs as an asset (param -> config, secret from the env);
        # a stub fails with its message until someone ports it
        proc = run(root, {**env, "SMTP": SECRET_VALUE}, "materialize", "civis/hello_hourly civis/vendor_list_load",
                   traceback_ok=True)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 1, output[-4000:]
        assert "civis/hello_hourly success" in output
        assert "is not ported yet: COPY loads files from S3" in output
        assert SECRET_VALUE not in output

        # 5. verify against prod, where Civis's scripts made the live tables
        make_live(live)
        live_env = {**env, "WAREHOUSE_URL": _url(live)}
        before = rows(live, "select * from analytics.donor_totals order by person_id")
        proc = run(root, live_env, "civis", "verify", " ".join(corpus.VERIFIABLE))
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        for key in corpus.VERIFIABLE:
            assert any(line.startswith(key) and line.endswith("passed") for line in proc.stdout.splitlines()), key
        assert proc.stdout.rstrip().endswith("0 mismatch(es): the migration matches the live tables")
        assert rows(live, "select * from analytics.donor_totals order by person_id") == before  # only read

        dry = run(root, live_env, "civis", "archive")
        assert dry.returncode == 0, dry.stderr
        for id_ in (101, 104):
            assert f"would    sql script {id_} " in dry.stdout
        assert 'would    workflow 401 "Nightly fundraising"' in dry.stdout

        # Civis's table drifts from what the migrated model builds: verify names it and how
        with connect(live) as conn, conn.cursor() as cur:
            cur.execute("update analytics.donor_totals set total_amount = total_amount + 1 where person_id = 4")
        proc = run(root, live_env, "civis", "verify", " ".join(corpus.VERIFIABLE))
        assert proc.returncode == 1, proc.stdout[-4000:]
        assert "analytics/donor_totals (analytics.donor_totals): column total_amount: values differ" in proc.stdout
        assert f"{len(corpus.VERIFIABLE)} model(s) verified, 1 mismatch(es)" in proc.stdout

        # 6. archive: a dry run sends nothing; --yes unschedules only what verify proved
        fake.clear_log()
        dry = run(root, live_env, "civis", "archive")
        assert dry.returncode == 0 and fake.requests == ()
        assert 'skipped  sql script 104 "Donor totals": verify failed: analytics/donor_totals (failed)' in dry.stdout
        proc = run(root, live_env, "civis", "archive", "--yes")
        assert proc.returncode == 0, proc.stderr
        writes = [(r.method, r.path) for r in fake.requests if r.method in ("PATCH", "PUT", "POST", "DELETE")]
        assert writes == [("PATCH", "/scripts/sql/101")]
        assert fake.get("sql", 101)["schedule"]["scheduled"] is False
        assert fake.get("sql", 101)["schedule"]["scheduledHours"] == [6]  # switched off, not erased
        for kind, id_ in (("sql", 104), ("workflows", 401), ("sql", 110), ("python3", 202), ("imports", 901)):
            assert fake.get(kind, id_)["schedule"]["scheduled"] is True, (kind, id_)
        assert 'done     sql script 101 "Daily signups rollup": schedule turned off' in proc.stdout
        assert 'done     sql script 102 "People table": schedule was already off' in proc.stdout
        assert 'skipped  workflow 401 "Nightly fundraising": verify failed: analytics/donor_totals' in proc.stdout
