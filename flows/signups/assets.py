"""`raw/signups`: signup-form exports (CSV or CSV.gz) landed into `raw.signups`.

Nightly (no partition) it lands every file in `SIGNUPS_DIR` not landed before; with a partition
(`assetgraph materialize raw/signups --partition 2026-11-03`, or `--from/--to` for a backfill)
it replaces that submission date's rows from the files, atomically. See `flows.landing`.

Contract for dbt (`source('raw', 'signups')`), kept exactly:

    submission_id text, form_id text, submitted_at timestamptz, first_name text,
    last_name text, email text, phone text, zip text, van_id bigint (null when blank),
    utm_source text, utm_medium text, utm_campaign text, _loaded_at timestamptz,
    _source_file text, _source_line integer, _load_id text, _partition date

Emails and phones are stored as exported (messy); duplicates are landed (dbt dedupes on
`submission_id`). Blank fields land as NULL. `utm_*` columns may be absent from a file (NULL).

Environment: `SIGNUPS_DIR` (default `data/signups`, relative to the working directory; an
`s3://` URL is recognised but not implemented), `SIGNUPS_TIMEZONE` (IANA zone of timestamps
without an offset and of `_partition` dates; default UTC), `LANDING_MAX_QUARANTINE_FRACTION`
(default 0.01), `LANDING_STRATEGY` (`direct` or `staging`).

Also a plain Prefect flow: `python -m flows.signups.assets [--dir D] [--partition DATE]`.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from assetgraph.definitions import AssetContext, asset
from assetgraph.specs import DailyPartitions, FreshnessPolicy, MaterializeResult
from flows.landing.table_spec import Column, ColumnType, TableSpec

__all__ = ["SIGNUPS_COLUMNS", "signups_spec", "signups_source", "signups", "run_flow"]

DEFAULT_DIR = "data/signups"

SIGNUPS_COLUMNS: tuple[Column, ...] = (
    Column("submission_id"),
    Column("form_id"),
    Column("submitted_at", ColumnType.TIMESTAMPTZ),
    Column("first_name", pii=True),
    Column("last_name", pii=True),
    Column("email", pii=True),
    Column("phone", pii=True),
    Column("zip", pii=True),
    Column("van_id", ColumnType.BIGINT),
    Column("utm_source", required=False),
    Column("utm_medium", required=False),
    Column("utm_campaign", required=False),
)


def signups_spec(environ: Mapping[str, str] | None = None) -> TableSpec:
    """The `raw.signups` table, with the time zone from `SIGNUPS_TIMEZONE`."""
    from flows.landing.errors import ConfigurationError

    env = os.environ if environ is None else environ
    zone = env.get("SIGNUPS_TIMEZONE", "").strip() or "UTC"
    if zone.upper() != "UTC":
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(zone)
        except (ValueError, KeyError, OSError):
            raise ConfigurationError("SIGNUPS_TIMEZONE", zone, "is not a known IANA time zone") from None
    return TableSpec("raw", "signups", SIGNUPS_COLUMNS, partition_column="submitted_at", timezone=zone)


def signups_source(environ: Mapping[str, str] | None = None):  # -> flows.landing.file_sources.FileSource
    """Where the exports are: `SIGNUPS_DIR`, default `data/signups`."""
    from flows.landing.sources import open_source

    env = os.environ if environ is None else environ
    return open_source(env.get("SIGNUPS_DIR", "").strip() or DEFAULT_DIR)


@asset(
    "raw/signups",
    group="raw",
    kind="python",
    tags=["nightly"],
    partitions=DailyPartitions(start="2026-01-01"),
    freshness=FreshnessPolicy(max_lag_hours=26),
    retries=1,
)
def signups(context: AssetContext) -> MaterializeResult:
    """Signup-form exports (CSV / CSV.gz from SIGNUPS_DIR) landed as raw.signups: new files
    nightly; with a partition, that submission date is replaced from the files."""
    from flows.landing.engine import LandingOptions, land_new_files, replace_partition

    spec = signups_spec()
    source = signups_source()
    options = LandingOptions.from_env(run_id=context.run_id, log=context.log)
    if context.partition:
        result = replace_partition(context.warehouse, spec, source, context.partition, options)
    else:
        result = land_new_files(context.warehouse, spec, source, options)
    return MaterializeResult(row_count=result.rows_landed, metadata=result.metadata())


def run_flow(argv: Sequence[str] | None = None) -> int:
    """Land signups as a plain Prefect flow (no asset graph): `python -m flows.signups.assets`."""
    import argparse
    import sys

    from assetgraph._env import apply_defaults

    apply_defaults()  # telemetry off, quiet logs: before Prefect is imported
    from assetgraph.execution.standalone import run_asset_as_flow
    from flows.landing.errors import ExtractionError

    parser = argparse.ArgumentParser(prog="python -m flows.signups.assets", description="Land signup-form exports.")
    parser.add_argument("--dir", help=f"directory of exports (default $SIGNUPS_DIR or {DEFAULT_DIR})")
    parser.add_argument("--partition", help="replace this submission date (YYYY-MM-DD) instead")
    args = parser.parse_args(argv)
    if args.dir:
        os.environ["SIGNUPS_DIR"] = args.dir

    try:
        summary = run_asset_as_flow(signups, "land-signups", args.partition)
    except ExtractionError as exc:
        print(f"land-signups failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"land-signups: {summary['rows_landed']} rows landed from {summary['files_loaded']} files "
        f"({summary['files_skipped']} already loaded), {summary['rows_quarantined']} quarantined"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_flow())
