"""A run whose process was killed must not stay `running` in the catalog for good: the next
materialize or retry marks it `crashed`, and `assetgraph retry` takes it like a failed run.
Real processes, a real SIGKILL, the real embedded Postgres."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

from assetgraph import catalog
from assetgraph.warehouse import connect


def _status(wh, run_id):
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("select status, message from asset_catalog.runs where run_id = %s", (run_id,))
        return cur.fetchone()


def _start_run(wh, monkeypatch, run_id, process):
    monkeypatch.setattr(catalog, "this_process", lambda: process)
    catalog.record_run_start(wh, run_id, "raw/signups+", [], "test")
    monkeypatch.undo()


def test_a_killed_runs_process_makes_it_crashed_and_retryable(warehouse, monkeypatch):
    catalog.ensure_catalog(warehouse)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        killed = catalog._process_start(child.pid)
        _start_run(warehouse, monkeypatch, "run-killed",
                   {"host": socket.gethostname(), "pid": child.pid, "start": killed})
        _start_run(warehouse, monkeypatch, "run-live", catalog.this_process())  # this very process
        _start_run(warehouse, monkeypatch, "run-elsewhere", {"host": "another-host", "pid": child.pid})

        assert catalog.mark_crashed_runs(warehouse) == []  # the child is alive: nothing is judged
        assert _status(warehouse, "run-killed")[0] == "running"
        assert catalog.latest_failed_run(warehouse) is None

        child.send_signal(signal.SIGKILL)
        child.wait()
        assert catalog.mark_crashed_runs(warehouse) == ["run-killed"]
        status, message = _status(warehouse, "run-killed")
        assert status == "crashed" and f"pid {child.pid}" in message
        assert _status(warehouse, "run-live")[0] == "running"  # a live run is never touched
        assert _status(warehouse, "run-elsewhere")[0] == "running"  # another host's: cannot tell
        assert catalog.latest_failed_run(warehouse).run_id == "run-killed"
        assert catalog.mark_crashed_runs(warehouse) == []  # idempotent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_reused_pid_is_told_apart_by_its_start_time():
    me = catalog.this_process()
    assert not catalog.process_gone(me)
    assert catalog.process_gone({**me, "start": str(int(me["start"]) + 1)})  # same pid, another process
    assert not catalog.process_gone({**me, "host": "elsewhere"})
    assert not catalog.process_gone(None) and not catalog.process_gone({"host": me["host"], "pid": "x"})
