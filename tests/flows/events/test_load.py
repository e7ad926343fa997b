"""`raw/event_attendances` end to end: simulator over HTTP on 127.0.0.1 -> client -> COPY into
the real embedded Postgres. Expected rows are derived from the simulator's own data set."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from assetgraph.definitions import AssetContext
from assetgraph.warehouse import connect
from flows.events.assets import EventsConfig, event_attendances, load_event_attendances
from flows.events.client import RetryPolicy
from flows.events.errors import (
    EventsEmptyResultError,
    EventsQuarantineThresholdError,
    EventsRetriesExhaustedError,
)
from flows.events.records import EVENT_ATTENDANCES_COLUMNS
from flows.events.simulator import DatasetConfig, EventsSimulator, FaultConfig

TOKEN = "tok-3b9e0f2a-never-log-me"
NO_WAIT = RetryPolicy(max_attempts=8, base_delay=0.0, max_delay=0.0, max_retry_after=0.0)


@pytest.fixture
def simulator():
    started: list[EventsSimulator] = []

    def make(dataset: DatasetConfig, faults: FaultConfig | None = None) -> EventsSimulator:
        sim = EventsSimulator(token=TOKEN, dataset=dataset, faults=faults)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def config_for(sim: EventsSimulator, **kw) -> EventsConfig:
    return EventsConfig(api_url=sim.base_url, token=TOKEN, org_id=sim.dataset.org_id,
                        per_page=kw.pop("per_page", 40), **kw)


def load(wh, sim, *, partition=None, retry=NO_WAIT, log=None, **kw):
    sleeps: list[float] = []
    result = load_event_attendances(wh, partition=partition, config=config_for(sim, **kw), retry=retry,
                                    sleep=sleeps.append, log=log)
    return result, sleeps


def query(wh, sql, *args):
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def valid(record) -> bool:
    slot = record.get("timeslot") or {}
    return isinstance(record.get("id"), int) and isinstance(slot.get("start_date"), int)


def day_of(record) -> dt.date:
    return dt.datetime.fromtimestamp(record["timeslot"]["start_date"], dt.timezone.utc).date()


def test_full_load_lands_every_record_once_under_429s_and_500s(warehouse, simulator):
    sim = simulator(DatasetConfig(attendances=600, seed=2, malformed_fraction=0.005),
                    FaultConfig(rate_limit_probability=0.15, server_error_probability=0.15, retry_after=0, seed=4))
    result, _ = load(warehouse, sim, max_quarantine_fraction=0.05)

    good = [r for r in sim.attendances if valid(r)]
    bad = [r for r in sim.attendances if not valid(r)]
    assert bad, "the data set should hold some malformed records"
    rows = query(warehouse, "select attendance_id, event_id, timeslot_start, _partition, email, van_id, "
                            "attended_at, _load_id, _source_page from raw.event_attendances")
    assert sorted(r[0] for r in rows) == sorted(r["id"] for r in good)
    by_id = {r[0]: r for r in rows}
    for rec in good:
        row = by_id[rec["id"]]
        assert row[1] == rec["event"]["id"]
        assert row[2] == dt.datetime.fromtimestamp(rec["timeslot"]["start_date"], dt.timezone.utc)
        assert row[3] == day_of(rec)
        emails = rec["person"]["email_addresses"]
        assert row[4] == (emails[0]["address"] if emails else None)
        van = [f["text_value"] for f in rec["custom_signup_field_values"] if f["custom_field_name"] == "VAN ID"]
        assert row[5] == (int(van[0]) if van else None)
        assert (row[6] is not None) == (rec["attended"] is True)
        assert row[7] == result.load_id and row[8].startswith("/v1/organizations/1/attendances?")
    faults = [r.fault for r in sim.requests]
    assert "rate_limit" in faults and "server_error" in faults
    meta = result.metadata()
    assert meta["rows_landed"] == len(good) and meta["rows_quarantined"] == len(bad)
    assert meta["api_retries"] == faults.count("rate_limit") + faults.count("server_error")
    assert meta["api_count"] == 600 and meta["records_fetched"] == 600

    quarantined = query(warehouse, "select table_name, source_file, reason, reason, load_id from raw._quarantine")
    assert len(quarantined) == len(bad)
    assert all(q[0] == "raw.event_attendances" and q[4] == result.load_id for q in quarantined)
    assert all(q[1].startswith("/v1/organizations/1/attendances?") for q in quarantined)
    reasons = " ".join(q[2] for q in quarantined)  # one quarantine shape for all sources: the ref is in the reason
    assert all(f"(attendance {r['id']})" in reasons for r in bad if "id" in r)
    dump = repr(quarantined)
    for r in bad:  # the quarantine names records, never their personal data
        for e in r["person"]["email_addresses"]:
            assert e["address"] not in dump
        assert r["person"]["family_name"] not in dump


def test_table_and_quarantine_have_exactly_the_contract_columns(warehouse, simulator):
    sim = simulator(DatasetConfig(attendances=20))
    load(warehouse, sim)
    cols = query(warehouse, "select column_name, data_type from information_schema.columns where "
                            "table_schema = 'raw' and table_name = 'event_attendances' order by ordinal_position")
    types = {"bigint": "bigint", "text": "text", "date": "date", "timestamptz": "timestamp with time zone"}
    assert cols == [(n, types[t]) for n, t in EVENT_ATTENDANCES_COLUMNS]
    q = query(warehouse, "select column_name, data_type from information_schema.columns where "
                         "table_schema = 'raw' and table_name = '_quarantine' order by ordinal_position")
    assert q == [("table_name", "text"), ("source_file", "text"), ("source_line", "integer"), ("reason", "text"),
                 ("load_id", "text"), ("sha256", "text"), ("quarantined_at", "timestamp with time zone")]


def test_exhausted_retries_leave_the_previous_table_intact(warehouse, simulator, caplog):
    first = simulator(DatasetConfig(attendances=300, seed=1))
    before, _ = load(warehouse, first)
    snapshot = query(warehouse, "select * from raw.event_attendances order by attendance_id")
    assert len(snapshot) == 300

    failing = simulator(DatasetConfig(attendances=400, seed=8), FaultConfig(fail_pages=frozenset({4})))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EventsRetriesExhaustedError) as info:
        load(warehouse, failing, retry=RetryPolicy(max_attempts=3, base_delay=0.0))
    assert info.value.status == 500 and info.value.attempts == 3 and info.value.pages_fetched == 3
    assert "page=4" in str(info.value) and "nothing was landed" in str(info.value)
    assert query(warehouse, "select * from raw.event_attendances order by attendance_id") == snapshot
    assert {r[0] for r in query(warehouse, "select distinct _load_id from raw.event_attendances")} == {before.load_id}
    for text in (str(info.value), repr(info.value), caplog.text):
        assert TOKEN not in text


def test_failed_swap_rolls_back_and_keeps_the_previous_rows(warehouse, simulator):
    sim = simulator(DatasetConfig(attendances=100, seed=6))
    load(warehouse, sim)
    snapshot = query(warehouse, "select * from raw.event_attendances order by attendance_id")
    # a trigger makes the insert of the swap fail after the delete already ran in the transaction
    with connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute("create function raw.boom() returns trigger language plpgsql as "
                    "$$ begin raise exception 'disk full (simulated)'; end $$")
        cur.execute("create trigger boom before insert on raw.event_attendances for each row execute function raw.boom()")
    with pytest.raises(Exception, match="disk full"):
        load(warehouse, simulator(DatasetConfig(attendances=150, seed=7)))
    assert query(warehouse, "select * from raw.event_attendances order by attendance_id") == snapshot


def test_partition_load_lands_only_that_day_and_keeps_the_others(warehouse, simulator):
    sim = simulator(DatasetConfig(attendances=500, seed=12, days=5))
    full, _ = load(warehouse, sim)
    days = sorted({day_of(r) for r in sim.attendances})
    target = days[2]
    # make that day's rows stale so the reload visibly replaces them
    with connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute("update raw.event_attendances set event_title = 'stale' where _partition = %s", (target,))
        cur.execute("insert into raw.event_attendances (attendance_id, event_id, _partition, _load_id) "
                    "values (1, 1, %s, 'gone')", (target,))  # deleted upstream: must disappear
    before_other = query(warehouse, "select * from raw.event_attendances where _partition <> %s "
                                    "order by attendance_id", target)

    result, _ = load(warehouse, sim, partition=target.isoformat())
    expected = sorted(r["id"] for r in sim.attendances if day_of(r) == target)
    got = query(warehouse, "select attendance_id, event_title, _load_id from raw.event_attendances "
                           "where _partition = %s order by attendance_id", target)
    assert [g[0] for g in got] == expected
    assert all(g[1] != "stale" and g[2] == result.load_id for g in got)
    assert query(warehouse, "select * from raw.event_attendances where _partition <> %s "
                            "order by attendance_id", target) == before_other
    assert result.rows_landed == len(expected) == result.rows_landed - result.rows_unchanged
    assert result.records_other_partitions == 500 - len(expected)
    assert full.load_id != result.load_id


def test_unchanged_rows_keep_their_loaded_at(warehouse, simulator):
    sim = simulator(DatasetConfig(attendances=80, seed=21))
    first, _ = load(warehouse, sim)
    with connect(warehouse) as conn, conn.cursor() as cur:  # one attendance differs from the API now
        cur.execute("update raw.event_attendances set utm_source = 'old' where attendance_id = %s",
                    (sim.attendances[0]["id"],))
    second, _ = load(warehouse, sim)
    assert second.rows_landed == 80 and second.rows_unchanged == 79
    loads = dict(query(warehouse, "select _load_id, count(*) from raw.event_attendances group by 1"))
    assert loads == {first.load_id: 79, second.load_id: 1}
    (changed,), = query(warehouse, "select _load_id from raw.event_attendances where attendance_id = %s",
                        sim.attendances[0]["id"])
    assert changed == second.load_id


def test_too_many_bad_records_fail_the_load_and_keep_the_table(warehouse, simulator):
    sim = simulator(DatasetConfig(attendances=200, seed=3, malformed_fraction=0.2))
    with pytest.raises(EventsQuarantineThresholdError) as info:
        load(warehouse, sim)
    err = info.value
    assert err.bad == sum(not valid(r) for r in sim.attendances) and err.total == 200
    assert query(warehouse, "select count(*) from raw.event_attendances") == [(0,)]
    assert query(warehouse, "select count(*) from raw._quarantine where load_id = %s", err.load_id) == [(err.bad,)]


def test_empty_answer_does_not_wipe_a_full_table(warehouse, simulator):
    load(warehouse, simulator(DatasetConfig(attendances=50, seed=1)))
    empty = simulator(DatasetConfig(attendances=0))
    with pytest.raises(EventsEmptyResultError):
        load(warehouse, empty)
    assert query(warehouse, "select count(*) from raw.event_attendances") == [(50,)]
    result, _ = load(warehouse, empty, allow_empty_load=True)
    assert result.rows_landed == 0
    assert query(warehouse, "select count(*) from raw.event_attendances") == [(0,)]


def test_quarantine_table_created_by_the_csv_landing_is_reused(warehouse, simulator):
    with connect(warehouse) as conn, conn.cursor() as cur:  # the shape flows.landing creates
        cur.execute("create schema raw")
        cur.execute("create table raw._quarantine (table_name text not null, source_file text not null, "
                    "source_line integer, reason text not null, load_id text not null, sha256 text, "
                    "quarantined_at timestamptz not null default now())")
    sim = simulator(DatasetConfig(attendances=300, seed=2, malformed_fraction=0.01))
    result, _ = load(warehouse, sim, max_quarantine_fraction=0.1)
    rows = query(warehouse, "select source_file, reason from raw._quarantine where load_id = %s", result.load_id)
    assert len(rows) == result.rows_quarantined > 0
    assert all(s.startswith("/v1/") and ("(attendance " in r or "(page " in r) for s, r in rows)


def test_asset_uses_env_config_and_never_logs_the_token(warehouse, simulator, monkeypatch, caplog):
    sim = simulator(DatasetConfig(attendances=120, seed=5, org_id=42),
                    FaultConfig(rate_limit_probability=0.3, retry_after=0, seed=2))
    monkeypatch.setenv("EVENTS_API_URL", sim.base_url)
    monkeypatch.setenv("EVENTS_API_TOKEN", TOKEN)
    monkeypatch.setenv("EVENTS_ORG_ID", "42")
    monkeypatch.setenv("EVENTS_API_PER_PAGE", "25")
    caplog.set_level(logging.DEBUG)
    ctx = AssetContext(key=event_attendances.key, run_id="run-1", warehouse=warehouse,
                       log=logging.getLogger("test.events"))
    out = event_attendances(ctx)
    assert out.row_count == 120 and out.metadata["api"] == "api" and out.metadata["api_rate_limited"] > 0
    assert out.metadata["pages"] == 5
    assert "retrying" in caplog.text
    assert TOKEN not in caplog.text and TOKEN not in repr(out.metadata)
    assert TOKEN not in repr(EventsConfig.from_env())

    monkeypatch.setenv("EVENTS_API_TOKEN", "wrong-" + TOKEN)
    with pytest.raises(Exception) as info:
        event_attendances(ctx)
    assert "HTTP 403" in str(info.value) and TOKEN not in str(info.value) and TOKEN not in caplog.text


def test_asset_without_api_url_runs_against_a_local_simulator(warehouse, monkeypatch):
    import threading

    for name in ("EVENTS_API_URL", "EVENTS_API_TOKEN", "EVENTS_ORG_ID"):
        monkeypatch.delenv(name, raising=False)
    ctx = AssetContext(key=event_attendances.key, run_id="dev", warehouse=warehouse, partition="2026-11-03")
    out = event_attendances(ctx)
    assert out.metadata["api"] == "simulator" and out.row_count > 0
    assert query(warehouse, "select distinct _partition from raw.event_attendances") == [(dt.date(2026, 11, 3),)]
    assert not [t for t in threading.enumerate() if t.name == "events-simulator"]  # stopped again
