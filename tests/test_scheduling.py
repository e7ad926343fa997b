"""scheduling.py against a real Prefect server started here on 127.0.0.1 (not the in-process
harness), with a real process worker and a real local HTTP receiver for alerts."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import scheduling
from scheduling import Schedule
from tests.conftest import REPO

POOL = "test-process-pool"


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from assetgraph.devserver import local_prefect_server

    home = tmp_path_factory.mktemp("prefect-home")
    with local_prefect_server(home) as url:
        subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", POOL, "--type", "process"],
                       env={**os.environ, "PREFECT_API_URL": url}, check=True, capture_output=True)
        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    assert "Traceback" not in (home / "server.log").read_text(), "the Prefect server logged a traceback"


def _nightly(**changes) -> Schedule:
    base = Schedule(name="t-nightly", selection="+sync/van_source_codes", cron="5 2 * * *",
                    timezone="America/New_York", work_pool=POOL, tags=("nightly",))
    return dataclasses.replace(base, **changes)


def _deployment(name: str, flow: str = "assetgraph-materialize"):
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_deployment_by_name(f"{flow}/{name}")


def test_apply_plan_update_delete_and_hands_off(prefect_server):
    from prefect import get_client

    from assetgraph.execution.deployable import materialize_flow

    # a deployment made by hand on the server: never touched
    materialize_flow.to_deployment(name="made-by-hand", parameters={"selection": "raw/signups"}).apply()

    extra = _nightly(name="t-extra", cron="0 6 * * *", tags=())
    changes = scheduling.apply((_nightly(), extra))
    assert {c.name: c.action for c in changes} == {"t-nightly": "create", "t-extra": "create"}
    d = _deployment("t-nightly")
    sched = d.schedules[0]
    assert sched.schedule.cron == "5 2 * * *" and sched.schedule.timezone == "America/New_York"
    assert d.parameters == {"selection": "+sync/van_source_codes"}
    assert d.work_pool_name == POOL and scheduling.MANAGED_TAG in d.tags

    again = scheduling.apply((_nightly(), extra))
    assert {c.action for c in again} == {"unchanged"}, [(c.name, c.fields) for c in again]

    edited = scheduling.plan((_nightly(cron="30 3 * * *"), extra))
    by_name = {c.name: c for c in edited}
    assert by_name["t-extra"].action == "unchanged"
    assert by_name["t-nightly"].action == "update"
    assert by_name["t-nightly"].fields == {"cron": ("5 2 * * *", "30 3 * * *")}
    assert _deployment("t-nightly").schedules[0].schedule.cron == "5 2 * * *"  # plan changed nothing

    removed = scheduling.apply((_nightly(),))
    assert {c.name: c.action for c in removed} == {"t-nightly": "unchanged", "t-extra": "delete"}
    with get_client(sync_client=True) as client:
        names = {d.name for d in client.read_deployments()}
    assert "t-extra" not in names
    assert {"t-nightly", "made-by-hand"} <= names


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


def _run_with_worker(name: str, env: dict) -> object:
    """Trigger a run of deployment `name` and let a real process worker execute it."""
    from prefect import get_client
    from prefect.deployments import run_deployment

    flow_run = run_deployment(f"assetgraph-materialize/{name}", timeout=0)
    worker = subprocess.run(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--run-once", "--type", "process"],
        env=env, capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 120
        while True:
            run = client.read_flow_run(flow_run.id)
            if run.state.is_final() or time.monotonic() > deadline:
                return run, worker
            time.sleep(0.5)


def test_worker_runs_the_nightly_deployment_and_failures_alert(prefect_server, warehouse_env, receiver, tmp_path):
    import datetime as dt

    from assetgraph.warehouse import connect
    from flows.signups.sample_data import SampleConfig, generate
    from sync.simulator.server import Simulator

    url, received = receiver
    bad = _nightly(name="t-broken", selection="marts/no_such_asset")
    scheduling.apply((_nightly(), bad))
    generate(tmp_path / "signups", SampleConfig(rows=400, days=2, seed=9, start=dt.date(2026, 11, 1)))
    import csv

    with open(REPO / "dbt_project" / "seeds" / "source_code_map.csv", newline="") as fh:
        codes = {int(r["source_code_id"]) for r in csv.DictReader(fh)}
    with Simulator("worker-key", codes=codes, auto_people=True) as sim:
        env = {**os.environ, "PREFECT_API_URL": prefect_server, "ASSETGRAPH_ALERT_WEBHOOK_URL": url,
               "SIGNUPS_DIR": str(tmp_path / "signups"), "EVERYACTION_API_URL": sim.base_url,
               "EVERYACTION_API_KEY": "worker-key", "EVERYACTION_DB": "EveryAction"}
        env.pop("ASSETGRAPH_MODULES", None)
        run, worker = _run_with_worker("t-nightly", env)
        applications = len(sim.applications)
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("select asset_key, message from asset_catalog.materializations where status <> 'success'")
        problems = cur.fetchall()
    assert run.state.is_completed(), (problems, run.state, worker.stderr[-2000:])
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("select asset_key, status from asset_catalog.materializations")
        statuses = dict(cur.fetchall())
        cur.execute("select count(*) from sync.van_sync_ledger where status = 'applied'")
        applied = cur.fetchone()[0]
    assert statuses["sync/van_source_codes"] == "success" and set(statuses.values()) == {"success"}
    assert applied == applications > 0
    assert received == []

    run, worker = _run_with_worker("t-broken", env)
    assert run.state.is_failed(), run.state
    assert len(received) == 1
    assert "t-broken" in json.dumps(received) or "ended Failed" in received[0]["text"]
    assert "ended Failed" in received[0]["text"]
