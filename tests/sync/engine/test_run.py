"""The EveryAction sync against the real simulator (HTTP on 127.0.0.1) and the real ledger in
Postgres: exactly once under faults, within the concurrency limit, after kill -9, no key leaks."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg2
import pytest

from sync.everyaction.client import ClientConfig, EveryActionClient
from sync.engine.run import run_sync
from sync.errors import FailureFractionExceeded, RequestFailed, SyncLockedError
from sync.engine.ledger import LEDGER, ensure_ledger
from sync.simulator.server import Faults, Simulator
from tests.conftest import REPO

KEY = "sk-test-3f9a7c1e55d0"
CODES = (1001, 1002, 1003)


def _connect(wh):
    return lambda: psycopg2.connect(**wh.dsn_kwargs())


def _client_factory(sim: Simulator, **overrides):
    cfg = ClientConfig(base_url=sim.base_url, api_key=KEY, **{"timeout": 0.3, "backoff_base": 0.01, **overrides})
    return lambda: EveryActionClient(cfg)


def _ledger(wh):
    with psycopg2.connect(**wh.dsn_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"select van_id, source_code_id, status from {LEDGER}")
        return {(v, c): s for v, c, s in cur.fetchall()}


def test_5k_codes_under_faults_exactly_once_within_the_limit(warehouse, prefect_api):
    pairs = [(v, CODES[v % 3]) for v in range(1, 5001)]
    faults = Faults(p429=0.10, p500=0.05, p_hang=0.01, p_reset=0.01, retry_after=0, hang_seconds=1.0, seed=11)
    with Simulator(KEY, people=range(1, 5001), codes=CODES, faults=faults) as sim:
        # ~16 % of attempts fail: with the default 6 attempts, some code exhausts them in about
        # 1 run in 12 (0.16**6 * 5000) and is rightly recorded `failed`; 10 attempts make that
        # about 1 in 20,000, so a missing code here means a bug, not bad luck.
        summary = run_sync(_connect(warehouse), "run-1", pairs, _client_factory(sim, max_attempts=10),
                           concurrency=3, batch_size=1000)
        counts = sim.applied_counts()
        faults_seen = {r["fault"] for r in sim.requests}
        max_in_flight = sim.max_in_flight
    assert {"429", "500", "hang", "reset"} <= faults_seen
    odd = {p: (counts.get(p, 0), _ledger(warehouse).get(p)) for p in pairs if counts.get(p) != 1}
    assert not odd, f"applied twice or never (times applied, ledger status): {odd}; {summary.as_metadata()}"
    assert max_in_flight <= 3
    assert summary.applied + summary.already_applied == 5000 and summary.failed == 0
    assert summary.retried > 500
    assert set(_ledger(warehouse).values()) == {"applied"}


def test_requests_wait_for_slots_of_the_global_limit(warehouse, prefect_api):
    """Another holder of 2 of the 3 `everyaction-api` slots (another deployment, another
    machine) leaves this sync one request in flight until it lets go."""
    from prefect.concurrency.sync import concurrency

    from sync.engine.run import CONCURRENCY_LIMIT_NAME, ensure_concurrency_limit

    assert ensure_concurrency_limit(3)
    pairs = [(v, 1001) for v in range(1, 601)]
    holding, held_max = threading.Event(), []
    with Simulator(KEY, people=range(1, 601), codes=CODES, faults=Faults(latency=0.004)) as sim:

        def other_deployment() -> None:
            with concurrency(CONCURRENCY_LIMIT_NAME, occupy=2, strict=True):
                holding.set()
                deadline = time.monotonic() + 60
                while len(sim.applications) < 150 and time.monotonic() < deadline:
                    time.sleep(0.01)  # watching progress, not waiting for time to pass
                held_max.append((len(sim.applications), sim.max_in_flight))

        holder = threading.Thread(target=other_deployment)
        holder.start()
        assert holding.wait(30)
        summary = run_sync(_connect(warehouse), "slots", pairs, _client_factory(sim), concurrency=3, batch_size=300)
        holder.join()
        counts = sim.applied_counts()
    (applied_while_held, max_while_held), = held_max
    assert applied_while_held >= 150 and max_while_held == 1
    assert summary.applied == 600 and len(counts) == 600 and set(counts.values()) == {1}


def test_permanent_errors_are_recorded_not_retried_and_bounded(warehouse):
    people = range(1, 101)
    pairs = [(v, 1001) for v in range(1, 98)] + [(500, 1001), (98, 9999), (99, 9999)]  # 1 unknown person, 2 bad codes
    with Simulator(KEY, people=people, codes=CODES) as sim:
        summary = run_sync(_connect(warehouse), "r", pairs, _client_factory(sim), use_prefect_limit=False)
        posts = [r for r in sim.requests if r["method"] == "POST"]
    assert (summary.not_found, summary.bad_code, summary.applied) == (1, 2, 97)
    assert len(posts) == 100  # no retries of permanent errors
    ledger = _ledger(warehouse)
    assert ledger[(500, 1001)] == "not_found" and ledger[(98, 9999)] == "bad_code"

    more = [(v, 9999) for v in range(1, 11)]
    with Simulator(KEY, people=people, codes=CODES) as sim:
        with pytest.raises(FailureFractionExceeded) as info:
            run_sync(_connect(warehouse), "r2", more, _client_factory(sim), use_prefect_limit=False,
                     max_failure_fraction=0.05)
    assert "10 of 10" in str(info.value)


def test_retry_after_is_honoured():
    waits: list[float] = []
    with Simulator(KEY, people=[1], codes=CODES, faults=Faults(p429=1.0, retry_after=7, seed=1)) as sim:
        cfg = ClientConfig(base_url=sim.base_url, api_key=KEY, max_attempts=3)
        result = EveryActionClient(cfg, sleep=waits.append).apply_code(1, 1001)
    assert waits == [7.0, 7.0]
    assert result.status == "failed" and result.http_status == 429


def test_overlapping_runs_never_both_sync(warehouse):
    holder = psycopg2.connect(**warehouse.dsn_kwargs())
    ensure_ledger(holder)
    with holder.cursor() as cur:
        cur.execute("lock table sync.van_sync_lock in exclusive mode")
    try:
        with Simulator(KEY, people=[1], codes=CODES) as sim:
            with pytest.raises(SyncLockedError):
                run_sync(_connect(warehouse), "second", [(1, 1001)], _client_factory(sim), use_prefect_limit=False)
            assert sim.requests == []
    finally:
        holder.close()


def test_api_key_never_leaks(warehouse, caplog):
    caplog.set_level(logging.DEBUG)
    with Simulator("the-real-key", people=[1, 2], codes=CODES) as sim:
        with pytest.raises(RequestFailed) as info:  # wrong key: 401 fails the whole sync
            run_sync(_connect(warehouse), "r", [(1, 1001)], _client_factory(sim), use_prefect_limit=False)
    text = str(info.value) + repr(info.value) + caplog.text + repr(ClientConfig("http://x/v4/", KEY))
    with psycopg2.connect(**warehouse.dsn_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"select * from {LEDGER}")
        text += repr(cur.fetchall())
    assert KEY not in text
    assert "401" in str(info.value)


CHILD = """
import sys, psycopg2
from sync.everyaction.client import ClientConfig, EveryActionClient
from sync.engine.run import run_sync
dsn = dict(host=sys.argv[1], port=int(sys.argv[2]), user='postgres', dbname=sys.argv[3])
cfg = ClientConfig(base_url=sys.argv[4], api_key=sys.argv[5], timeout=2)
pairs = [(v, 1001) for v in range(1, 1501)]
run_sync(lambda: psycopg2.connect(**dsn), 'child', pairs, lambda: EveryActionClient(cfg),
         use_prefect_limit=False, batch_size=100)
"""


def test_kill_9_mid_sync_then_rerun_applies_each_code_once(warehouse):
    pairs = [(v, 1001) for v in range(1, 1501)]
    with Simulator(KEY, people=range(1, 1501), codes=CODES, faults=Faults(latency=0.004)) as sim:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, warehouse.host, str(warehouse.port), warehouse.dbname, sim.base_url, KEY],
            cwd=REPO, env={**os.environ},
        )
        deadline = time.monotonic() + 60
        # 450: in the middle of the 5th batch of 100, never on a batch boundary
        while len(sim.applications) < 450 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)  # watching progress, not waiting for time to pass
        assert child.poll() is None, "the child finished before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        applied_before = len(sim.applications)
        pending = [k for k, s in _ledger(warehouse).items() if s == "pending"]
        assert 0 < applied_before < 1500 and pending, "the kill should land mid-batch"

        summary = run_sync(_connect(warehouse), "rerun", [p for p, s in _ledger(warehouse).items() if s != "applied"]
                           + [p for p in pairs if p not in _ledger(warehouse)], _client_factory(sim),
                           use_prefect_limit=False)
        counts = sim.applied_counts()
    assert len(counts) == 1500 and set(counts.values()) == {1}
    assert summary.already_applied > 0  # pending rows found applied were not sent again
    assert set(_ledger(warehouse).values()) == {"applied"}


def test_origin_source_code_is_the_first_code_within_24h():
    with Simulator(KEY, people=[7], codes=CODES) as sim:
        client = EveryActionClient(ClientConfig(base_url=sim.base_url, api_key=KEY))
        assert client.apply_code(7, 1002).status == "applied"
        assert client.apply_code(7, 1003).status == "applied"
        assert sim.people[7].origin_source_code == 1002
        assert client.has_code(7, 1003) and not client.has_code(7, 1001)
