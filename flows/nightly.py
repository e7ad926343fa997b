"""`make nightly`: the whole pipeline on the embedded warehouse, from a fresh clone.

0. start (or reuse) the local Prefect server in `.prefect/` (or use `PREFECT_API_URL`);
1. start (or reuse) the warehouse: `WAREHOUSE_URL`, or the embedded Postgres in `.warehouse/`;
2. put sample signup exports in `SIGNUPS_DIR` (7 days the first time; one new day, ~1 % of
   the volume, on every later run, so the incremental models have something new to do);
3. start the local EveryAction simulator when `EVERYACTION_API_URL` is unset;
4. materialize the nightly selection as one Prefect flow run;
5. write the data-quality report and the catalog page; print the summary; exit non-zero if
   anything failed or a blocking check stopped the sync.

`python -m flows.nightly [--selection SEL] [--rows N]`
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Sequence

from assetgraph._env import apply_defaults, drain_prefect_services

NIGHTLY_SELECTION = "+sync/van_source_codes"
ROOT = Path(__file__).resolve().parents[1]


def signups_dir() -> Path:
    return Path(os.environ.get("SIGNUPS_DIR") or ROOT / "data" / "signups")


def ensure_sample_signups(directory: Path, rows: int, seed: int = 7) -> list[Path]:
    """First run: `rows` rows over 7 days. Later runs: one more day with ~1 % of `rows`."""
    from flows.signups.sample_data import SampleConfig, generate

    existing = sorted(directory.glob("signups_*.csv*"))
    if not existing:
        files = generate(directory, SampleConfig(rows=rows, days=7, seed=seed, start=dt.date(2026, 11, 1)))
        return [f.path for f in files]
    last = max(dt.date.fromisoformat(p.name.split("_", 1)[1][:10]) for p in existing)
    day = last + dt.timedelta(days=1)
    files = generate(directory, SampleConfig(rows=max(1, rows // 100), days=1, seed=seed + (day - dt.date(2026, 11, 1)).days, start=day))
    return [f.path for f in files]


def main(argv: Sequence[str] | None = None) -> int:
    apply_defaults()
    parser = argparse.ArgumentParser(prog="python -m flows.nightly", description=__doc__.split("\n\n")[0])
    parser.add_argument("--selection", default=NIGHTLY_SELECTION)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("NIGHTLY_SAMPLE_ROWS", "20000")))
    args = parser.parse_args(argv)

    from rich.console import Console

    from assetgraph._prefect_server import ensure_prefect_api
    from assetgraph.cli import _live_line as live, _print_report
    from assetgraph.errors import AssetGraphError
    from assetgraph.execution import materialize
    from assetgraph.loader import load_project
    from assetgraph.warehouse import resolve_warehouse

    console = Console(stderr=True, highlight=False)
    try:
        ensure_prefect_api(ROOT, announce=console.print)
    except AssetGraphError as exc:
        console.print(f"error: {exc}")
        return 2
    wh = resolve_warehouse()
    console.print(f"warehouse: {wh.describe()}")
    directory = signups_dir()
    os.environ["SIGNUPS_DIR"] = str(directory)
    new_files = ensure_sample_signups(directory, args.rows)
    console.print(f"signup exports: {directory} ({len(new_files)} new file(s))")

    simulator = None
    if not os.environ.get("EVERYACTION_API_URL"):
        from sync.simulator.dev import start_local_simulator

        simulator = start_local_simulator(wh)
        console.print(f"EveryAction: local simulator at {simulator.base_url}")

    debug = os.environ.get("ASSETGRAPH_DEBUG", "").strip().lower() in ("1", "true", "yes")
    try:
        if not debug:  # one line per failed asset; the Prefect logs keep the tracebacks
            from assetgraph._console_logging import hide_tracebacks_on_console

            hide_tracebacks_on_console()
        project = load_project()
        report = materialize(project, args.selection, listener=live, options={"trigger": "make nightly"})
    except AssetGraphError as exc:
        console.print(f"error: {exc}")
        return 2
    finally:
        drain_prefect_services()
        if simulator is not None:
            simulator.stop()

    _print_report(report)
    reports = Path(os.environ.get("ASSETGRAPH_REPORTS_DIR") or ROOT / "reports")
    quality = None
    try:
        from quality.report import build_report

        quality = build_report(wh, report.run_id, reports / "quality")
    except ImportError:
        pass
    from assetgraph.catalog_site import write_catalog_site

    page = write_catalog_site(
        project.graph, wh, reports / "catalog", dbt_project_dir=project.settings.dbt_project_dir,
        links={"Data-quality report (this run)": quality} if quality else None,
    )
    print(f"catalog page:        {page.resolve().as_uri()}")
    if quality:
        print(f"data-quality report: {quality}")
    print(f"catalog tables:      asset_catalog.runs / materializations / check_results (run {report.run_id})")
    if os.environ.get("PREFECT_UI_URL"):
        print(f"flow run in the UI:  {os.environ['PREFECT_UI_URL']}/runs/flow-run/{report.run_id}")
    return 0 if report.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
