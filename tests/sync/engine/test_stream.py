"""The sync reads its assignments lazily, one batch at a time, and still sends each pair once:
duplicates across batches and pairs the ledger already has as applied are dropped in the
ledger, not by remembering every pair. Real simulator (HTTP on 127.0.0.1), real Postgres."""

from __future__ import annotations

import psycopg2

from sync.everyaction.client import ClientConfig, EveryActionClient
from sync.engine.run import run_sync
from sync.engine.ledger import LEDGER, Outcome, Status, ensure_ledger, mark_pending, record_outcomes
from sync.simulator.server import Simulator

KEY = "sk-test-stream-77aa"
CODE = 1001


def _connect(wh):
    return lambda: psycopg2.connect(**wh.dsn_kwargs())


def _factory(sim):
    cfg = ClientConfig(base_url=sim.base_url, api_key=KEY, timeout=2, backoff_base=0.01)
    return lambda: EveryActionClient(cfg)


def test_a_lazy_stream_with_duplicates_across_batches_sends_each_pair_once(warehouse):
    pulled = []

    def stream():  # 300 pairs, then the same 300 again: never in the same batch of 100
        for _ in range(2):
            for van_id in range(1, 301):
                pulled.append(van_id)
                yield van_id, CODE

    with Simulator(KEY, people=range(1, 301), codes=(CODE,)) as sim:
        summary = run_sync(_connect(warehouse), "stream", stream(), _factory(sim), batch_size=100,
                           use_prefect_limit=False)
        counts = sim.applied_counts()
    assert len(pulled) == 600  # the generator was consumed lazily, to the end
    assert len(counts) == 300 and set(counts.values()) == {1}
    assert summary.applied == 300 and summary.skipped == 300 and summary.total == 600


def test_pairs_the_ledger_has_applied_are_not_sent_again(warehouse):
    """A mart built before the last sync finished still lists people that sync applied."""
    with psycopg2.connect(**warehouse.dsn_kwargs()) as conn:
        ensure_ledger(conn)
        mark_pending(conn, [(v, CODE) for v in range(1, 51)], "earlier")
        record_outcomes(conn, [Outcome(v, CODE, Status.APPLIED) for v in range(1, 51)], "earlier")
    with Simulator(KEY, people=range(1, 101), codes=(CODE,)) as sim:
        summary = run_sync(_connect(warehouse), "later", [(v, CODE) for v in range(1, 101)], _factory(sim),
                           batch_size=40, use_prefect_limit=False)
        counts = sim.applied_counts()
    assert sorted(v for v, _ in counts) == list(range(51, 101))
    assert summary.applied == 50 and summary.skipped == 50
    with psycopg2.connect(**warehouse.dsn_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"select status, count(*) from {LEDGER} group by status")
        assert dict(cur.fetchall()) == {"applied": 100}
