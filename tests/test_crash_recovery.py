"""Crash safety of the runtime with real processes: `python -m flows.nightly` on the project's
managed Prefect server (its own home here), the EveryAction simulator in its own process (it
outlives what is killed and counts every request), the real warehouse.

The simulator holds code requests after a few applications, so the kill lands mid-sync with
three requests in flight and three slots of `everyaction-api` taken; nothing here waits for
time to pass, only for conditions (held requests, a process's exit, a server's health).

(a) SIGKILL the client mid-sync, run the nightly again: it completes.
(b) SIGKILL the Prefect server mid-sync, run the nightly again (it starts a new server): it completes.
(c) SIGKILL a process worker and the flow run it started mid-sync, run the deployment again: it completes.
In both, every code is applied exactly once and never more than 3 requests are in flight.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assetgraph._prefect_server import healthy, stop_local_server
from assetgraph.warehouse import connect
from tests.conftest import REPO

KEY = "crash-test-key"
HOLD_AFTER = 25


def _seed_codes() -> str:
    with open(REPO / "dbt_project" / "seeds" / "source_code_map.csv", newline="") as fh:
        return ",".join(sorted({row["source_code_id"] for row in csv.DictReader(fh)}))


class _Sim:
    """`python -m sync.simulator` in its own process, driven over HTTP."""

    def __init__(self, hold_after: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sync.simulator", "--port", "0", "--auto-people", "--api-key", KEY,
             "--codes", _seed_codes(), "--hold-after", str(hold_after)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.base_url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert self.base_url.startswith("http://127.0.0.1:"), self.base_url
        self._root = self.base_url.split("/v4/")[0]

    def stats(self) -> dict:
        with urllib.request.urlopen(self._root + "/_sim/stats", timeout=30) as r:
            return json.loads(r.read())

    def release(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self._root + "/_sim/release", method="POST"), timeout=30).read()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _wait_until(condition, what: str, timeout: float = 600.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the nightly exited ({proc.returncode}) before {what}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _api(url: str, path: str, body: dict | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _active_slots(api_url: str) -> int:
    return int(_api(api_url, "/v2/concurrency_limits/everyaction-api")["active_slots"])  # type: ignore[index]


def _server(home: Path) -> tuple[int, str]:
    state = json.loads((home / "server.json").read_text())
    return int(state["pid"]), f"http://127.0.0.1:{state['port']}/api"


@pytest.fixture
def nightly_env(tmp_path, warehouse_env):
    sim = _Sim(HOLD_AFTER)
    home = tmp_path / ".prefect"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "ASSETGRAPH_PREFECT_SERVER")}
    env.update({
        "ASSETGRAPH_PREFECT_HOME": str(home),
        "SIGNUPS_DIR": str(tmp_path / "signups"),
        "ASSETGRAPH_REPORTS_DIR": str(tmp_path / "reports"),
        "NIGHTLY_SAMPLE_ROWS": "800",
        "EVERYACTION_API_URL": sim.base_url,
        "EVERYACTION_API_KEY": KEY,
        "EVERYACTION_BATCH_SIZE": "30",  # a lease is 10 requests: several leases per sync
        "EVERYACTION_TIMEOUT_SECONDS": "60",  # held requests are not given up on while we kill
    })
    try:
        yield env, sim, home, warehouse_env
    finally:
        sim.stop()
        stop_local_server(home)


def _start_nightly(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "w") as fh:
        return subprocess.Popen([sys.executable, "-m", "flows.nightly"], cwd=REPO, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)


def _kill_point(sim: _Sim, nightly: subprocess.Popen) -> None:
    """Mid-sync: HOLD_AFTER codes applied, 3 requests held open by the simulator."""
    _wait_until(lambda: sim.stats()["held"] == 3, "3 held requests", proc=nightly)


def _assert_exactly_once(sim: _Sim, wh, api_url: str) -> None:
    stats = sim.stats()
    pairs = [tuple(p) for p in stats["applications"]]
    twice = {p for p in pairs if pairs.count(p) > 1}
    assert not twice, f"applied more than once: {sorted(twice)[:10]}"
    assert stats["max_in_flight"] <= 3, stats["max_in_flight"]
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("select van_id, source_code_id, status from sync.van_sync_ledger")
        ledger = {(int(v), int(c)): s for v, c, s in cur.fetchall()}
        cur.execute("select count(*) from sync.van_sync_slots")
        leases = cur.fetchone()[0]
    assert set(ledger.values()) == {"applied"}, "a code was left pending or failed"
    assert set(ledger) == set(pairs), "the ledger and EveryAction disagree"
    assert len(pairs) > HOLD_AFTER + 10
    assert leases == 0  # every lease recorded was given back
    assert _active_slots(api_url) == 0  # no slot left taken for the next run


def test_client_killed_mid_sync_then_rerun_completes(tmp_path, nightly_env):
    env, sim, home, wh = nightly_env
    first = _start_nightly(env, tmp_path / "night1.log")
    _kill_point(sim, first)
    pid, api_url = _server(home)
    assert _active_slots(api_url) == 3  # the slots the killed client holds
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert _active_slots(api_url) == 3  # still counted: nothing on the server frees them yet
    sim.release()

    second = subprocess.run([sys.executable, "-m", "flows.nightly"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=900)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-4000:]
    assert "Traceback" not in output, output[-4000:]
    assert f"Prefect UI: {api_url.removesuffix('/api')}" in output
    assert _server(home)[0] == pid  # the server outlived the killed client and was reused
    _assert_exactly_once(sim, wh, api_url)
    with connect(wh) as conn, conn.cursor() as cur:  # the killed run is not left `running` for good
        cur.execute("select status from asset_catalog.runs order by started_at")
        assert [status for (status,) in cur.fetchall()] == ["crashed", "success"]

    # the run is visible through the server: flow run, task runs, asset events, the sync's artifact
    runs = _api(api_url, "/flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 5})
    done = [r for r in runs if r["state_type"] == "COMPLETED"]  # type: ignore[union-attr]
    assert done, [r["state_type"] for r in runs]  # type: ignore[union-attr]
    tasks = _api(api_url, "/task_runs/filter", {"flow_runs": {"id": {"any_": [done[0]["id"]]}}, "limit": 200})
    names = {t["task_key"].split("-")[0] for t in tasks}  # type: ignore[union-attr]
    assert any("van_source_codes" in t["name"] and t["state_type"] == "COMPLETED" for t in tasks), names  # type: ignore[union-attr]
    artifacts = _api(api_url, "/artifacts/filter", {"artifacts": {"key": {"any_": ["van-source-codes-sync"]}}})
    assert artifacts and artifacts[0]["flow_run_id"] == done[0]["id"]  # type: ignore[index]
    query = {"filter": {"event": {"prefix": ["prefect.asset.materialization"]},
                        "resource": {"id": ["assetgraph://sync/van_source_codes"]}}, "limit": 50}
    # the server stores events in batches (a few seconds after they arrive)
    _wait_until(lambda: _api(api_url, "/events/filter", query)["events"],  # type: ignore[index]
                "the asset event of sync/van_source_codes", timeout=120)


def test_prefect_server_killed_mid_sync_then_nightly_completes(tmp_path, nightly_env):
    env, sim, home, wh = nightly_env
    # fewer retries of Prefect's client: the orphaned run gives up on its dead server sooner
    first = _start_nightly({**env, "PREFECT_CLIENT_MAX_RETRIES": "1"}, tmp_path / "night1.log")
    _kill_point(sim, first)
    pid, api_url = _server(home)
    assert _active_slots(api_url) == 3
    os.kill(pid, signal.SIGKILL)
    _wait_until(lambda: not healthy(api_url), "the killed server to stop answering")
    sim.release()
    # the client carries on without its server and ends on its own (bounded waits), whatever it reports
    first.wait(timeout=900)

    second = subprocess.run([sys.executable, "-m", "flows.nightly"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=900)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-4000:] + (tmp_path / "night1.log").read_text()[-3000:]
    new_pid, new_api = _server(home)
    assert new_pid != pid and "Prefect UI: http://127.0.0.1:" in output  # a new server was started
    _assert_exactly_once(sim, wh, new_api)


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (the flow run a worker starts may be in its own session)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def test_worker_killed_mid_sync_then_next_run_completes(tmp_path, nightly_env):
    """(c) A process worker and the flow run it started are SIGKILLed together (its machine or
    container dies) mid-sync; a new worker runs the deployment again: it completes."""
    import datetime as dt

    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from assetgraph._prefect_server import ensure_local_server
    from assetgraph.execution.deployable import materialize_flow
    from flows.signups.sample_data import SampleConfig, generate

    env, sim, home, wh = nightly_env
    api_url = ensure_local_server(home).api_url
    env = {**env, "PREFECT_API_URL": api_url}
    generate(Path(env["SIGNUPS_DIR"]), SampleConfig(rows=800, days=3, seed=5, start=dt.date(2026, 11, 1)))
    pool = "crash-test-process"
    with temporary_settings({PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        materialize_flow.to_deployment(
            name="crash-nightly", parameters={"selection": "+sync/van_source_codes"},
            work_pool_name=pool, job_variables={"working_dir": str(REPO)},
        ).apply()

        def worker(run_once: bool) -> subprocess.Popen:
            args = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
            return subprocess.Popen(args + (["--run-once"] if run_once else []), cwd=REPO, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

        first_run = run_deployment("assetgraph-materialize/crash-nightly", timeout=0)
        first = worker(run_once=False)
        _kill_point(sim, first)
        assert _active_slots(api_url) == 3
        killed = [first.pid, *_descendants(first.pid)]  # the worker and the flow run it started
        assert len(killed) >= 2
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        first.wait()
        sim.release()

        second_run = run_deployment("assetgraph-materialize/crash-nightly", timeout=0)
        second = worker(run_once=True)
        with get_client(sync_client=True) as client:
            _wait_until(lambda: client.read_flow_run(second_run.id).state.is_final(), "the second run to end", proc=None)
            state = client.read_flow_run(second_run.id).state
            orphan = client.read_flow_run(first_run.id).state
        second.kill()
        second.wait()
    assert state.is_completed(), state
    assert not orphan.is_completed()  # the killed run never finished: the second one did the work
    _assert_exactly_once(sim, wh, api_url)
