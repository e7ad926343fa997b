"""Civis schedules -> `scheduling.py` entries: the fire times Prefect's server computes from the
generated Schedule equal the fire times Civis's schedule fields mean (compared as instants, not
as cron strings)."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import sys
from zoneinfo import ZoneInfo

import pytest

from assetgraph.ext.civis._objects import CivisObject, CivisSchedule
from assetgraph.ext.civis._schedules import schedule_for
from tests.ext.civis.import_fixtures import imported  # noqa: F401 (pytest fixtures)

UTC = dt.timezone.utc


def civis_fire_times(s: CivisSchedule, tz: str, start: dt.datetime, n: int) -> list[dt.datetime]:
    """What Civis does, spelled out: walk every minute; fire when the local wall clock matches."""
    zone = ZoneInfo(tz)
    if s.minutes:
        minutes = set(s.minutes)
    elif s.runs_per_hour:
        minutes = {i * 60 // s.runs_per_hour for i in range(s.runs_per_hour)}
    else:
        minutes = {0}
    out: list[dt.datetime] = []
    t = start.astimezone(UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    while len(out) < n:
        local = t.astimezone(zone)
        weekday = local.isoweekday() % 7  # Civis: 0 = Sunday
        if ((not s.days or weekday in s.days)
                and (not s.days_of_month or local.day in s.days_of_month)
                and (not s.hours or local.hour in s.hours)
                and local.minute in minutes):
            out.append(t)
        t += dt.timedelta(minutes=1)
    return out


def prefect_fire_times(cron: str, tz: str, start: dt.datetime, n: int) -> list[dt.datetime]:
    from prefect.server.schemas.schedules import CronSchedule

    dates = asyncio.run(CronSchedule(cron=cron, timezone=tz).get_dates(n=n, start=start))
    return [d.astimezone(UTC) for d in dates]


CASES = {
    "weekdays 6:30 Chicago": (CivisSchedule(True, days=(1, 2, 3, 4, 5), hours=(6,), minutes=(30,)), "America/Chicago"),
    "1st and 15th at 3:00": (CivisSchedule(True, days_of_month=(1, 15), hours=(3,), minutes=(0,)), "America/Chicago"),
    "4 runs per hour, 9-17": (CivisSchedule(True, hours=tuple(range(9, 18)), runs_per_hour=4), "America/New_York"),
    "Sunday 2:15 New York": (CivisSchedule(True, days=(0,), hours=(2,), minutes=(15,)), "America/New_York"),
    "Saturday twice a day, two minutes": (CivisSchedule(True, days=(6,), hours=(0, 12), minutes=(5, 35)), "Europe/London"),
    "7 runs per hour (uneven)": (CivisSchedule(True, hours=(8,), runs_per_hour=7), "UTC"),
    "31st of the month": (CivisSchedule(True, days_of_month=(31,), hours=(23,), minutes=(59,)), "Asia/Kolkata"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fire_times_match_civis(case):
    sched, tz = CASES[case]
    obj = CivisObject("sql", 1, "Case", "scripts/sql/1.json", {}, sched, tz)
    generated, _ = schedule_for(obj, "analytics/x")
    assert generated is not None and generated.timezone == tz
    start = dt.datetime(2026, 4, 20, 12, 7, tzinfo=UTC)  # no DST change within the windows below
    n = 12 if "31st" not in case else 3
    assert prefect_fire_times(generated.cron, tz, start, n) == civis_fire_times(sched, tz, start, n)


def test_an_unscheduled_object_gets_no_schedule():
    obj = CivisObject("sql", 1, "Case", "p", {}, CivisSchedule(False, hours=(3,)), "UTC")
    assert schedule_for(obj, "analytics/x") == (None, [])


def test_scheduling_py_reads_the_generated_module(imported, monkeypatch):
    root, _, _ = imported
    spec = importlib.util.spec_from_file_location("scheduling_under_test", root / "scheduling.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "scheduling_under_test", module)  # dataclasses need it
    spec.loader.exec_module(module)
    by_name = {s.name: s for s in module.SCHEDULES}
    assert "nightly-van-source-codes" in by_name  # the hand-written ones stay
    wf = by_name["civis-workflow-401-nightly-fundraising"]
    assert (wf.cron, wf.timezone) == ("15 2 * * 0", "America/New_York")
    assert wf.selection == "analytics/people analytics/donor_totals analytics/engaged_people"
    assert by_name["civis-sql-104-donor-totals"].cron == "0 3 1,15 * *"
    assert by_name["civis-python3-202-hello-hourly"].selection == "civis/hello_hourly"
    assert all(s.tags == ("civis",) for n, s in by_name.items() if n.startswith("civis-"))


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real Prefect server on 127.0.0.1 (as tests/test_scheduling.py starts it)."""

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from assetgraph.devserver import local_prefect_server

    home = tmp_path_factory.mktemp("prefect-home")
    with local_prefect_server(home) as url:
        with temporary_settings({PREFECT_API_URL: url}):
            yield url


def test_applied_schedules_fire_on_the_server_when_civis_would_have(imported, prefect_server, monkeypatch):
    """`scheduling.py apply` puts the generated schedules on a real server; the server's own
    scheduler (asked to schedule a window in 2030) creates runs at the Civis fire times."""

    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter

    root, _, _ = imported
    spec = importlib.util.spec_from_file_location("scheduling_applied", root / "scheduling.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "scheduling_applied", module)
    spec.loader.exec_module(module)
    civis = tuple(s for s in module.SCHEDULES if s.name.startswith("civis-"))  # the declared process pool
    assert len(civis) == 5
    assert [s.name for s in civis if not s.active] == ["civis-sql-110-refresh-via-procedure"]
    changes = module.apply(civis)
    created = sorted(c.name for c in changes if c.action == "create" and c.kind == "deployment")
    assert created == sorted(s.name for s in civis)
    assert [c.name for c in changes if c.kind == "work pool"] == ["assetgraph-process"]  # made on a fresh server
    assert all(c.action == "unchanged" for c in module.plan(civis))

    from tests.ext.civis import import_corpus as corpus

    start = dt.datetime(2030, 4, 20, 12, 7, 30, tzinfo=UTC)
    wanted = {"civis-sql-101-daily-signups-rollup": (corpus.SQL[101][2], "America/Chicago"),
              "civis-sql-104-donor-totals": (corpus.SQL[104][2], "America/Chicago"),
              "civis-workflow-401-nightly-fundraising": (corpus.OTHERS["workflows/401.json"]["schedule"],
                                                         "America/New_York"),
              "civis-python3-202-hello-hourly": (corpus.PYTHON[202]["schedule"], "America/New_York")}
    with get_client(sync_client=True) as client:
        for name, (raw, tz) in wanted.items():
            deployment = client.read_deployment_by_name(f"assetgraph-materialize/{name}")
            response = client.request("POST", "/deployments/{id}/schedule", path_params={"id": deployment.id},
                                      json={"start_time": start.isoformat(),
                                            "end_time": (start + dt.timedelta(days=120)).isoformat(),
                                            "max_runs": 6, "min_runs": 6})
            assert response.status_code < 300
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                flow_run_filter=FlowRunFilter())
            fired = sorted(r.expected_start_time.astimezone(UTC) for r in runs
                           if r.expected_start_time >= start)[:6]
            sched = CivisSchedule(raw["scheduled"], tuple(raw["scheduledDays"]), tuple(raw["scheduledHours"]),
                                  tuple(raw["scheduledMinutes"]), raw["scheduledRunsPerHour"],
                                  tuple(raw["scheduledDaysOfMonth"]))
            assert fired == civis_fire_times(sched, tz, start, 6), name
