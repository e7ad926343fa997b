"""`make bench`: run the benchmarks that exist, each against a baseline measured in the same run.

    python -m benchmarks           # full sizes (1M rows, 10k codes): several minutes
    python -m benchmarks --quick   # small sizes, to check that everything runs

| measure | what | baseline | module |
|---|---|---|---|
| P1 | landing signup exports | psql \\copy, pandas to_sql | bench_landing |
| P2 | EveryAction sync rate | 150 req/s cap, the seed's sequential loop | bench_sync |
| P6 | GX quality gate | dbt tests on the same mart | bench_gate |
| P3-P5 | (not yet measured) | see the benchmarks issue | - |
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    from benchmarks import bench_gate, bench_landing, bench_sync

    runs = [
        ("P1 landing", bench_landing.main, ["--rows", "100000", "--repeat", "1"] if args.quick else []),
        ("P2 sync", bench_sync.main, ["--quick"] if args.quick else []),
        ("P6 quality gate", bench_gate.main, ["--rows", "100000", "--repeat", "1"] if args.quick else []),
    ]
    failed = []
    for name, fn, fn_args in runs:
        print(f"\n=== {name} ===", flush=True)
        try:
            fn(fn_args)
        except Exception as exc:  # report and go on: one broken benchmark must not hide the rest
            print(f"{name}: FAILED: {type(exc).__name__}: {exc}")
            failed.append(name)
    print("\nP3, P4, P5: not yet measured")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
