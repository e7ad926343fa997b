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
from assetgraph.work_pools import WorkPool
from scheduling import Schedule
from tests.conftest import REPO

POOL = "test-process-pool"
POOLS = (WorkPool(POOL, "process"),)


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
    changes = scheduling.apply((_nightly(), extra), POOLS)
    assert {c.name: c.action for c in changes if c.kind == "deployment"} == {"t-nightly": "create", "t-extra": "create"}
    assert [(c.kind, c.name, c.action) for c in changes if c.kind == "work pool"] == [("work pool", POOL, "unchanged")]
    d = _deployment("t-nightly")
    sched = d.schedules[0]
    assert sched.schedule.cron == "5 2 * * *" and sched.schedule.timezone == "America/New_York"
    assert d.parameters == {"selection": "+sync/van_source_codes"}
    assert d.work_pool_name == POOL and scheduling.MANAGED_TAG in d.tags

    again = scheduling.apply((_nightly(), extra), POOLS)
    assert {c.action for c in again} == {"unchanged"}, [(c.name, c.fields) for c in again]

    edited = scheduling.plan((_nightly(cron="30 3 * * *"), extra), POOLS)
    by_name = {c.name: c for c in edited}
    assert by_name["t-extra"].action == "unchanged"
    assert by_name["t-nightly"].action == "update"
    assert by_name["t-nightly"].fields == {"cron": ("5 2 * * *", "30 3 * * *")}
    assert _deployment("t-nightly").schedules[0].schedule.cron == "5 2 * * *"  # plan changed nothing

    removed = scheduling.apply((_nightly(),), POOLS)
    assert {c.name: c.action for c in removed if c.kind == "deployment"} == {"t-nightly": "unchanged", "t-extra": "delete"}
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
    scheduling.apply((_nightly(), bad), POOLS)
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


# ---- a fresh server, from the command line; work pools; errors -------------------------------
@pytest.fixture
def fresh_server(tmp_path):
    """A Prefect server with nothing on it: no work pool, no deployment."""
    from assetgraph.devserver import local_prefect_server

    with local_prefect_server(tmp_path / "prefect-home") as url:
        yield url


def _scheduling(url: str, *args: str, script: str = "scheduling.py", **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PREFECT_API_URL": url, **env}
    for name in ("ASSETGRAPH_WORK_POOL", "ASSETGRAPH_IMAGE"):
        if name not in env:
            environ.pop(name, None)
    return subprocess.run([sys.executable, script, *args], env=environ, cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def _server_deployments(url: str) -> dict:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        return {d.name: d for d in client.read_deployments()}


def _server_pool(url: str, name: str):
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        return client.read_work_pool(name)


def _actions(stdout: str) -> list[tuple[str, ...]]:
    """(action, kind, name) per change line of `scheduling.py plan/apply`."""
    out = []
    for line in stdout.splitlines():
        parts = line.split()
        if parts and parts[0] in ("create", "update", "unchanged", "delete"):
            kind = "work pool" if parts[1:3] == ["work", "pool"] else parts[1]
            out.append((parts[0], kind, parts[-1]))
    return out


def test_apply_on_a_fresh_server_creates_the_pool_and_a_second_apply_changes_nothing(fresh_server):
    names = [s.name for s in scheduling.SCHEDULES]
    plan = _scheduling(fresh_server, "plan")
    assert plan.returncode == 0, plan.stderr
    assert _actions(plan.stdout) == [("create", "work pool", "assetgraph-process")] + [
        ("create", "deployment", n) for n in names]
    assert _server_deployments(fresh_server) == {}  # plan changed nothing

    first = _scheduling(fresh_server, "apply")
    assert first.returncode == 0 and "Traceback" not in first.stdout + first.stderr, first.stderr
    pool = _server_pool(fresh_server, "assetgraph-process")
    assert pool.type == "process" and "working_dir" in pool.base_job_template["variables"]["properties"]

    deployments = _server_deployments(fresh_server)
    assert sorted(deployments) == sorted(names)
    for d in deployments.values():
        assert d.work_pool_name == "assetgraph-process"
        assert d.entrypoint in ("assetgraph.execution.deployable.materialize_flow",
                                "assetgraph.execution.deployable.freshness_flow")
        assert d.path is None and d.pull_steps == [] and d.job_variables == {"working_dir": "."}
        assert str(REPO) not in d.model_dump_json()  # nothing of the machine that applied it

    again = _scheduling(fresh_server, "apply")
    assert again.returncode == 0, again.stderr
    assert {a for a, _, _ in _actions(again.stdout)} == {"unchanged"}
    assert again.stdout.splitlines()[-1] == f"0 create, 0 update, {len(names) + 1} unchanged, 0 delete"
    assert {n: d.updated for n, d in _server_deployments(fresh_server).items()} == {
        n: d.updated for n, d in deployments.items()}


CONTAINER_POOLS = {
    "assetgraph-docker": ("docker", {"auto_remove": True, "mem_limit": "4g"}),
    "assetgraph-ecs": ("ecs", {"cpu": 1024, "memory": 4096, "launch_type": "FARGATE"}),
    "assetgraph-kubernetes": ("kubernetes", {"namespace": "assetgraph", "image_pull_policy": "IfNotPresent",
                                             "finished_job_ttl": 86400}),
}


def test_container_pools_carry_the_image_the_command_and_the_job_variables(fresh_server):
    """The shipped WORK_POOLS, one container type after the other, as CI applies them. No worker
    runs: a container engine / ECS / Kubernetes cannot run here; the server is real."""
    image = "ci-registry/assetgraph:3f2a9c1d0b7e"
    for pool_name, (pool_type, job_variables) in CONTAINER_POOLS.items():
        applied = _scheduling(fresh_server, "apply", ASSETGRAPH_WORK_POOL=pool_name, ASSETGRAPH_IMAGE=image)
        assert applied.returncode == 0 and "Traceback" not in applied.stderr, applied.stderr
        assert ("create", "work pool", pool_name) in _actions(applied.stdout)
        pool = _server_pool(fresh_server, pool_name)
        variables = pool.base_job_template["variables"]["properties"]
        assert pool.type == pool_type and {"image", "command", "env"} <= set(variables)
        assert set(job_variables) <= set(variables)  # the server validates them against the template
        for d in _server_deployments(fresh_server).values():
            assert d.work_pool_name == pool_name
            assert d.job_variables == {**job_variables, "image": image, "command": "prefect flow-run execute"}
            assert d.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": "/opt/assetgraph"}}]
            assert d.path is None and d.entrypoint.startswith("assetgraph.execution.deployable.")
            assert str(REPO) not in d.model_dump_json()
        again = _scheduling(fresh_server, "plan", ASSETGRAPH_WORK_POOL=pool_name, ASSETGRAPH_IMAGE=image)
        assert {a for a, _, _ in _actions(again.stdout)} == {"unchanged"}, again.stdout


UNKNOWN_TYPE = """
import sys
import scheduling
from assetgraph.work_pools import WorkPool
scheduling.WORK_POOLS = (WorkPool("assetgraph-process", "no-such-type", image="x:1"),)
sys.exit(scheduling.main(["scheduling.py", "apply"]))
"""


def test_errors_are_one_line_and_a_non_zero_exit(fresh_server, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/api"
    script = tmp_path / "unknown_type.py"
    script.write_text(UNKNOWN_TYPE)
    cases = {
        "unreachable": (_scheduling(closed, "plan"), "not reachable"),
        "wrong URL": (_scheduling(fresh_server.removesuffix("/api"), "apply"), "not a Prefect API URL"),
        "unknown type": (_scheduling(fresh_server, script=str(script), PYTHONPATH=str(REPO)),
                         "unknown work pool type 'no-such-type'"),
        "undeclared pool": (_scheduling(fresh_server, "apply", ASSETGRAPH_WORK_POOL="nope"),
                            "WORK_POOLS does not declare it"),
    }
    for name, (result, expected) in cases.items():
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (name, lines)
    assert _server_deployments(fresh_server) == {}  # nothing was half-applied
    debug = _scheduling(closed, "plan", "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_a_container_pool_needs_an_image_and_the_template_comes_from_disk():
    from assetgraph.errors import WorkPoolError
    from assetgraph.work_pools import base_job_template

    with pytest.raises(WorkPoolError, match="a docker pool runs an image"):
        WorkPool("p", "docker")
    template = base_job_template(WorkPool("p", "ecs", image="x:1"))
    assert "task_definition_arn" in template["variables"]["properties"]
    explicit = {"job_configuration": {"image": "{{ image }}"}, "variables": {"properties": {"image": {"type": "string"}}}}
    assert base_job_template(WorkPool("p", "custom-thing", image="x:1", base_job_template=explicit)) == explicit
