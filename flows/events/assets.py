"""`raw/event_attendances`: event attendances from a Mobilize-style events API, landed into
`raw.event_attendances` (columns: see `flows.events.records`).

Nightly (no partition) it reads every page of the organization's attendances and replaces the
table's contents; with a partition (`assetgraph materialize raw/event_attendances --partition
2026-11-03`, or `--from/--to`) it reads every page too (the API cannot filter attendances by
timeslot date) and replaces only the attendances whose timeslot starts that day. Either way the
crawl finishes before the warehouse is touched, and the swap is one transaction: a failed page
or load leaves the table as it was (see `flows.events.load`). Unparseable records go to
`raw._quarantine` with the attendance id, never the record's content.

Environment:
- `EVENTS_API_URL`: base URL including `/v1` (e.g. the real API's `.../v1`). Unset: a local
  simulator (`flows.events.simulator`) is started for the run and stopped after (dev).
- `EVENTS_API_TOKEN`: bearer token (required with `EVENTS_API_URL`; never logged).
- `EVENTS_ORG_ID`: the organization whose attendances are read (required with `EVENTS_API_URL`).
- `EVENTS_API_PER_PAGE` (default 100), `EVENTS_TIMEZONE` (IANA zone of `_partition` dates,
  default UTC), `EVENTS_MAX_QUARANTINE_FRACTION` (default 0.01), `EVENTS_ALLOW_EMPTY_LOAD=1`
  (let a full load that finds nothing empty a non-empty table).

Also a plain Prefect flow: `python -m flows.events.assets [--partition DATE]`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from assetgraph.definitions import AssetContext, asset
from assetgraph.specs import DailyPartitions, FreshnessPolicy, MaterializeResult

if TYPE_CHECKING:  # the runtime imports stay inside the functions (the CLI imports this module)
    from flows.events.client import RetryPolicy
    from flows.events.load import LoadResult

__all__ = ["EventsConfig", "events_api", "load_event_attendances", "event_attendances", "run_flow"]

DEV_ATTENDANCES = 2000  # size of the simulator's data set in dev


@dataclass(frozen=True)
class EventsConfig:
    """Settings of the events extraction. `token` never appears in repr."""

    api_url: str | None
    org_id: int
    token: str = field(default="", repr=False)
    per_page: int = 100
    timezone: str = "UTC"
    max_quarantine_fraction: float = 0.01
    allow_empty_load: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "EventsConfig":
        from flows.events.errors import EventsConfigError

        env = os.environ if environ is None else environ
        url = env.get("EVENTS_API_URL", "").strip() or None
        token = env.get("EVENTS_API_TOKEN", "").strip()
        org = env.get("EVENTS_ORG_ID", "").strip()
        if url is not None:
            if not url.lower().startswith(("http://", "https://")):
                raise EventsConfigError("EVENTS_API_URL", "must start with http:// or https://")
            if not token:
                raise EventsConfigError("EVENTS_API_TOKEN", "is required when EVENTS_API_URL is set")
            if not org:
                raise EventsConfigError("EVENTS_ORG_ID", "is required when EVENTS_API_URL is set")

        def integer(name: str, raw: str, default: int) -> int:
            if not raw:
                return default
            if not raw.isdigit() or int(raw) < 1:
                raise EventsConfigError(name, f"must be a positive integer, got {raw!r}")
            return int(raw)

        fraction_raw = env.get("EVENTS_MAX_QUARANTINE_FRACTION", "").strip()
        try:
            fraction = float(fraction_raw) if fraction_raw else 0.01
        except ValueError:
            fraction = -1.0
        if not 0.0 <= fraction <= 1.0:
            raise EventsConfigError("EVENTS_MAX_QUARANTINE_FRACTION",
                                    f"must be between 0 and 1, got {fraction_raw!r}")
        zone = env.get("EVENTS_TIMEZONE", "").strip() or "UTC"
        _zone(zone)
        return cls(
            api_url=url,
            org_id=integer("EVENTS_ORG_ID", org, 1),
            token=token,
            per_page=integer("EVENTS_API_PER_PAGE", env.get("EVENTS_API_PER_PAGE", "").strip(), 100),
            timezone=zone,
            max_quarantine_fraction=fraction,
            allow_empty_load=env.get("EVENTS_ALLOW_EMPTY_LOAD", "").strip().lower() in ("1", "true", "yes"),
        )


def _zone(name: str) -> dt.tzinfo:
    from flows.events.errors import EventsConfigError

    if name.upper() == "UTC":
        return dt.timezone.utc
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        raise EventsConfigError("EVENTS_TIMEZONE", f"{name!r} is not a known IANA time zone") from None


@contextmanager
def events_api(
    config: EventsConfig, log: logging.Logger | logging.LoggerAdapter
) -> Iterator[tuple[str, str, str]]:
    """(base_url, token, kind): the configured API, or a local simulator for the block (dev)."""
    if config.api_url:
        yield config.api_url, config.token, "api"
        return
    from flows.events.simulator import DEV_TOKEN, DatasetConfig, EventsSimulator

    token = config.token or DEV_TOKEN
    dataset = DatasetConfig(attendances=DEV_ATTENDANCES, events=40, org_id=config.org_id)
    sim = EventsSimulator(token=token, dataset=dataset)
    url = sim.start()
    log.info("EVENTS_API_URL is not set: reading from the local events simulator (dev)")
    try:
        yield url, token, "simulator"
    finally:
        sim.stop()


def load_event_attendances(
    warehouse: Any,
    *,
    partition: str | None = None,
    run_id: str = "",
    log: logging.Logger | logging.LoggerAdapter | None = None,
    config: EventsConfig | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] | None = None,
) -> LoadResult:
    """Fetch every page of attendances and land them (the whole day `partition`, or all)."""
    import time

    from flows.events.client import EventsApiClient
    from flows.events.errors import EventsConfigError
    from flows.events.load import LoadOptions, land_pages

    log = log or logging.getLogger("flows.events.assets")
    config = config or EventsConfig.from_env()
    day: dt.date | None = None
    if partition:
        try:
            day = dt.date.fromisoformat(partition)
        except ValueError:
            raise EventsConfigError("partition", f"{partition!r} is not a date (YYYY-MM-DD)") from None
    options = LoadOptions(
        load_id=uuid.uuid4().hex,
        loaded_at=dt.datetime.now(dt.timezone.utc),
        partition=day,
        timezone=_zone(config.timezone),
        max_quarantine_fraction=config.max_quarantine_fraction,
        allow_empty=config.allow_empty_load,
    )
    with events_api(config, log) as (url, token, kind):
        with EventsApiClient(url, token, per_page=config.per_page, retry=retry, log=log,
                             sleep=sleep or time.sleep) as client:
            result = land_pages(warehouse, client.iter_pages(config.org_id), options, log)
            stats = client.stats.as_metadata()
    log.info("events load %s (run %s) from the %s: %d API requests, %d retries",
             options.load_id, run_id or "-", kind, stats["api_requests"], stats["api_retries"])
    return dataclasses.replace(result, api_stats={"api": kind, **stats})


@asset(
    "raw/event_attendances",
    group="raw",
    kind="python",
    tags=["nightly"],
    partitions=DailyPartitions(start="2026-01-01"),
    freshness=FreshnessPolicy(max_lag_hours=26),
    retries=1,
)
def event_attendances(context: AssetContext) -> MaterializeResult:
    """Event attendances from the events API (EVENTS_API_URL; unset: local simulator) landed as
    raw.event_attendances: all pages nightly; with a partition, that timeslot date is replaced."""
    result = load_event_attendances(context.warehouse, partition=context.partition, run_id=context.run_id,
                                    log=context.log)
    return MaterializeResult(row_count=result.rows_landed, metadata=result.metadata())


def run_flow(argv: Sequence[str] | None = None) -> int:
    """Land event attendances as a plain Prefect flow (no asset graph): `python -m flows.events.assets`."""
    import argparse
    import sys

    from assetgraph._env import apply_defaults

    apply_defaults()
    parser = argparse.ArgumentParser(prog="python -m flows.events.assets", description="Land event attendances.")
    parser.add_argument("--partition", help="replace this timeslot date (YYYY-MM-DD) instead of everything")
    args = parser.parse_args(argv)

    from assetgraph.execution.standalone import run_asset_as_flow
    from flows.events.errors import EventsError

    try:
        summary = run_asset_as_flow(event_attendances, "land-event-attendances", args.partition)
    except EventsError as exc:
        print(f"land-event-attendances failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"land-event-attendances: {summary['rows_landed']} rows landed ({summary['rows_changed']} changed) "
        f"from {summary['pages']} pages, {summary['rows_quarantined']} quarantined"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(run_flow())
