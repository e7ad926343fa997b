"""Reconciling the slots of `everyaction-api` (sync/engine/slots.py) on a real Prefect API and the real
warehouse: a dead sync's leases are given back, another warehouse's live slots are not."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg2

from sync.engine.run import CONCURRENCY_LIMIT_NAME, ensure_concurrency_limit
from sync.engine.slots import SLOTS_TABLE, SlotLeases


def _active() -> int:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(CONCURRENCY_LIMIT_NAME).active_slots


def _rows(wh) -> int:
    with psycopg2.connect(**wh.dsn_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"select count(*) from {SLOTS_TABLE}")
        return cur.fetchone()[0]


def test_reconcile_frees_only_what_dead_syncs_of_this_warehouse_left(warehouse, prefect_api):
    from prefect import get_client

    connect = lambda: psycopg2.connect(**warehouse.dsn_kwargs())  # noqa: E731
    assert ensure_concurrency_limit(3)
    with get_client(sync_client=True) as client:
        # a sync of another warehouse, running now: 2 slots under its own lease
        other = client.increment_concurrency_slots_with_lease(
            names=[CONCURRENCY_LIMIT_NAME], slots=2, mode="concurrency", lease_duration=300).json()["lease_id"]
        try:
            # a sync of this warehouse that died holding a slot (never released, row left)
            dead = SlotLeases(connect, CONCURRENCY_LIMIT_NAME)
            dead.acquire()
            dead.close()
            assert _active() == 3 and _rows(warehouse) == 1

            now = SlotLeases(connect, CONCURRENCY_LIMIT_NAME)
            try:
                assert now.reconcile() == ["released"]
                assert _active() == 2 and _rows(warehouse) == 0  # the other sync's 2 slots stay

                # a lease the server lost in a restart (still counted, unknown to the server),
                # renewed a moment ago: decremented; one older than its lease: the server's
                # repossessor already freed it, so nothing is taken from live holders
                client.increment_concurrency_slots(names=[CONCURRENCY_LIMIT_NAME], slots=1, mode="concurrency")
                assert _active() == 3
                with connect() as conn, conn.cursor() as cur:
                    cur.execute(f"insert into {SLOTS_TABLE} values (%s, 1, 300, now() at time zone 'utc')",
                                (str(uuid.uuid4()),))
                    cur.execute(f"insert into {SLOTS_TABLE} values (%s, 1, 300, %s)",
                                (str(uuid.uuid4()), dt.datetime.utcnow() - dt.timedelta(hours=1)))
                assert sorted(now.reconcile()) == ["expired, repossessed by the server", "lost by the server, decremented"]
                assert _active() == 2 and _rows(warehouse) == 0
            finally:
                now.close()
        finally:
            client.release_concurrency_slots_with_lease(uuid.UUID(other))
    assert _active() == 0
