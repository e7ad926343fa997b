"""The project's managed local Prefect server (assetgraph/_prefect_server.py), with real
`prefect server start` processes: one server for two commands started at once, reuse, a stale
pid file after SIGKILL replaced, the UI pointed at its own port, `stop`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from assetgraph._prefect_server import LocalServer, ensure_local_server, ensure_prefect_api, healthy, stop_local_server
from tests.conftest import REPO

ENSURE = (
    "import sys; from pathlib import Path; from assetgraph._prefect_server import ensure_local_server;"
    "s = ensure_local_server(Path(sys.argv[1])); print(s.pid, s.port)"
)


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _wait_until(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_one_server_shared_reused_replaced_when_stale_and_stopped(tmp_path):
    home = tmp_path / ".prefect"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    # two commands at once: the file lock lets exactly one of them start the server
    procs = [subprocess.Popen([sys.executable, "-c", ENSURE, str(home)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    first, second = (out.split() for out, _ in outs)
    assert first == second, "two processes started two servers"
    server = LocalServer(int(first[0]), int(first[1]))
    try:
        assert (home / "server.log").read_text().count("Check out the dashboard") == 1
        assert json.loads((home / "server.json").read_text()) == {"pid": server.pid, "port": server.port}
        # reuse: same process, no second start
        assert ensure_local_server(home) == server
        # the UI is on and calls the API on this server's port, not 4200
        assert _get_json(f"{server.ui_url}/ui-settings")["api_url"] == server.api_url  # type: ignore[index]
        with urllib.request.urlopen(server.ui_url + "/", timeout=10) as r:
            assert b"<html" in r.read().lower()

        # a server killed with SIGKILL leaves a stale pid file: detected and replaced
        os.kill(server.pid, signal.SIGKILL)
        _wait_until(lambda: not healthy(server.api_url), "the killed server to stop answering")
        restarted = ensure_local_server(home)
        assert restarted.pid != server.pid and healthy(restarted.api_url)
        assert json.loads((home / "server.json").read_text())["pid"] == restarted.pid
        server = restarted
    finally:
        stopped = stop_local_server(home)
    assert stopped and not healthy(server.api_url)
    assert not (home / "server.json").exists()
    assert stop_local_server(home) is False  # nothing left to stop


def test_prefect_api_url_is_used_and_nothing_is_started(tmp_path, monkeypatch):
    home = tmp_path / ".prefect"
    monkeypatch.setenv("ASSETGRAPH_PREFECT_HOME", str(home))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    lines: list[str] = []
    assert ensure_prefect_api(announce=lines.append) == "http://127.0.0.1:9/api"
    assert lines == []  # the user's own server: nothing started, nothing announced
    assert not (home / "server.json").exists()


def test_ephemeral_mode_is_an_explicit_opt_in(tmp_path, monkeypatch):
    home = tmp_path / ".prefect"
    monkeypatch.setenv("ASSETGRAPH_PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("ASSETGRAPH_PREFECT_SERVER", "ephemeral")
    assert ensure_prefect_api(announce=lambda line: None) is None
    assert not (home / "server.json").exists()
