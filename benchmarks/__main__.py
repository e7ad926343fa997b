"""`make bench`: every measure against a baseline measured in the same run, as one table and
`benchmarks/results.json`. See benchmarks/README.md for what each measure is.

    python -m benchmarks                 # default sizes (1M rows, 10k codes): ~15 minutes on 2 cores
    python -m benchmarks --quick         # tiny sizes: proves the harness and every benchmark run
    python -m benchmarks --only P3,P5    # some measures
    python -m benchmarks --out FILE      # write the JSON elsewhere
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.harness import Benchmark, Measure, render_table, run_all, write_results

RESULTS = Path(__file__).resolve().parent / "results.json"


def _landing(quick: bool) -> list[Measure]:
    from benchmarks import bench_landing

    r = bench_landing.main(["--rows", "20000", "--pandas-rows", "5000", "--repeat", "1"] if quick else [])
    ours, psql, pandas = r["ours (direct)"], r["psql \\copy"], r["pandas to_sql"]
    size = f"{ours.rows:,} rows"
    return [
        Measure("P1", "landing signups vs psql \\copy", ours.rows_per_second, psql.rows_per_second, "psql \\copy",
                "rows/s", ">= 0.7", size),
        Measure("P1", "landing signups vs pandas to_sql", ours.rows_per_second, pandas.rows_per_second, "pandas",
                "rows/s", ">= 10", size),
    ]


def _sync(quick: bool) -> list[Measure]:
    from benchmarks import bench_sync

    r = bench_sync.main(["--codes", "1000"] if quick else [])
    size = f"{r['codes']:,} codes, 20 ms latency, limit 3"
    return [
        Measure("P2", "sync request rate vs the cap", r["rate"], r["cap"], "3 / 20 ms", "req/s", ">= 0.9", size),
        Measure("P2", "sync request rate vs the seed's loop", r["rate"], r["loop_rate"], "seed loop", "req/s", "", size),
        Measure("P2", f"sync peak Python memory at {r['codes']:,} codes", r["peak_mib"], None, "", "MiB", "", size),
    ]


def _gate(quick: bool) -> list[Measure]:
    from benchmarks import bench_gate

    r = bench_gate.main(["--rows", "20000", "--repeat", "2"] if quick else [])
    size = f"{r['rows']:,}-row mart, warm"
    return [Measure("P6", "GX quality gate vs dbt tests", r["gx_warm_s"], r["dbt_test_warm_s"], "dbt test", "s",
                    "<= 2", size)]


def _pipeline(quick: bool) -> list[Measure]:
    from benchmarks import bench_pipeline

    args = ["--rows", "4000", "--small-rows", "1000", "--repeat", "1"] if quick else []
    r = bench_pipeline.main(args)
    big, small = f"{r['rows']:,}", f"{r['small_rows']:,}"
    return [
        Measure("P3", "incremental night 2 (+1 %) vs night 1", r["night2_s"], r["night1_s"], "night 1", "s",
                "<= 0.25", f"{big} signups, materialize up to the mart"),
        Measure("P4", "assetgraph materialize kind:dbt vs dbt build", r["materialize_dbt_s"], r["dbt_build_s"],
                "dbt build", "s", "<= 1.25", f"{big} signups, median of {3 if not quick else 1}"),
        Measure("P5", "assetgraph list vs dbt ls", r["list_s"], r["dbt_ls_s"], "dbt ls", "s", "<= 0.5",
                "median of 5; absolute goal <= 1.5 s"),
        Measure("E1", "materialize kind:dbt with no Prefect server vs with one", r["materialize_dbt_ephemeral_s"],
                r["materialize_dbt_s"], "server running", "s", "", "Prefect's ephemeral server starts in each command"),
        Measure("M1", f"nightly peak RSS at {big} vs {small} rows", r["rss_big_mib"], r["rss_small_mib"],
                f"{small} rows", "MiB", f"<= {max(1.0, r['rows'] / r['small_rows'] / 5):g}",
                f"{r['rows'] / r['small_rows']:.0f}x the data; goal: a fifth of that growth or less"),
    ]


def _catalog(quick: bool) -> list[Measure]:
    import os
    import shutil

    from benchmarks import bench_catalog

    if not (os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")):
        return [Measure("P7", "catalog index load, 500-model project", None, None, "", "s",
                        status="not measured: no Chromium (apt-get install -y chromium)")]

    r = bench_catalog.main(["--models", "500", "--repeat", "2" if quick else "5"])
    return [Measure("P7", "catalog index load, 500-model project", r["index_load_s"], 2.0, "2 s bound", "s",
                    "< 1", f"{r['assets']} assets, headless Chromium; plain page of same size {r['plain_load_s']:.3f} s")]


BENCHMARKS = [
    Benchmark(("P1",), "landing signup exports", _landing),
    Benchmark(("P2",), "EveryAction sync rate", _sync),
    Benchmark(("P3", "P4", "P5", "M1"), "the pipeline: incremental nights, orchestration, CLI, memory", _pipeline),
    Benchmark(("P6",), "great-expectations gate", _gate),
    Benchmark(("P7",), "catalog site at 500 models", _catalog),
]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that everything runs")
    parser.add_argument("--only", help="comma-separated measure ids, e.g. P3,P5")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    args = parser.parse_args(argv)
    only = [x.strip() for x in args.only.split(",")] if args.only else None
    measures = run_all(BENCHMARKS, args.quick, only)
    print()
    print(render_table(measures))
    write_results(args.out, measures, args.quick, argv)
    print(f"results: {args.out}")
    return 1 if any(m.status == "FAILED" for m in measures) else 0


if __name__ == "__main__":
    sys.exit(main())
