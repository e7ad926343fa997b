"""The sync's memory is flat in the number of codes: the asset streams the mart in batches.

The real asset function (`sync.assets.van_source_codes`) reads a real mart table in Postgres
and applies every code through the real client against the simulator, which runs in its own
process (as EveryAction is another machine) so that its own records of every request do not
count in this process's allocations. The Prefect global concurrency limit is the real one.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import psycopg2
import pytest

from assetgraph.definitions import AssetContext
from assetgraph.keys import AssetKey
from sync.assets import MART, van_source_codes
from sync.engine.ledger import LEDGER
from tests.conftest import REPO

KEY = "sk-test-memory-0b1c"
CODE = 1001
SMALL, LARGE = 10_000, 50_000


@pytest.fixture
def simulator_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync.simulator", "--people", str(SMALL + LARGE + 1_000), "--codes", str(CODE),
         "--api-key", KEY, "--latency", "0"],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _fill_mart(wh, first: int, n: int) -> None:
    with psycopg2.connect(**wh.dsn_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("create schema if not exists marts")
        cur.execute(f"create table if not exists {MART} (van_id bigint not null, source_code_id integer not null)")
        cur.execute(f"truncate {MART}")
        cur.execute(f"insert into {MART} select v, {CODE} from generate_series(%s, %s) as v", (first, first + n - 1))


def _sync_peak(wh, run_id: str) -> tuple[int, int]:
    """The tracemalloc peak of one run of the sync asset, and the codes it applied."""
    context = AssetContext(key=AssetKey.from_user_string("sync/van_source_codes"), run_id=run_id, warehouse=wh)
    tracemalloc.start()
    try:
        result = van_source_codes(context)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, result.row_count


def test_memory_is_flat_from_10k_to_50k_codes(warehouse, prefect_api, simulator_url, monkeypatch):
    monkeypatch.setenv("EVERYACTION_API_URL", simulator_url)
    monkeypatch.setenv("EVERYACTION_API_KEY", KEY)
    _fill_mart(warehouse, 1, 500)  # warm-up: imports, the client's and Prefect's first allocations
    assert _sync_peak(warehouse, "warm-up")[1] == 500

    _fill_mart(warehouse, 1_001, SMALL)
    small, applied_small = _sync_peak(warehouse, "small")
    _fill_mart(warehouse, 1_001 + SMALL, LARGE)
    large, applied_large = _sync_peak(warehouse, "large")

    assert (applied_small, applied_large) == (SMALL, LARGE)
    with psycopg2.connect(**warehouse.dsn_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"select status, count(*) from {LEDGER} group by status")
        assert dict(cur.fetchall()) == {"applied": 500 + SMALL + LARGE}
    # Loading every pair grows ~4x from 10k to 50k (0.9 -> 7.5 MiB from 10k to 100k before);
    # streaming holds about one batch whatever the mart's size.
    mib = 2**20
    assert large < 1.5 * small, f"peak {small / mib:.2f} MiB at {SMALL:,} codes, {large / mib:.2f} MiB at {LARGE:,}"
