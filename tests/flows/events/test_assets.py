"""`python -m flows.events.assets` as a plain Prefect flow, against a real Prefect API and Postgres."""

from __future__ import annotations

import datetime as dt

from assetgraph.warehouse import connect
from flows.events.assets import run_flow
from flows.events.simulator import DatasetConfig, EventsSimulator

TOKEN = "flow-token-5d1e-do-not-print"


def test_plain_prefect_flow_lands_one_partition(warehouse_env, prefect_api, monkeypatch, capsys):
    with EventsSimulator(token=TOKEN, dataset=DatasetConfig(attendances=150, seed=4, org_id=9)) as sim:
        monkeypatch.setenv("EVENTS_API_URL", sim.base_url)
        monkeypatch.setenv("EVENTS_API_TOKEN", TOKEN)
        monkeypatch.setenv("EVENTS_ORG_ID", "9")
        assert run_flow(["--partition", "2026-11-02"]) == 0
        expected = sorted(
            r["id"] for r in sim.attendances
            if dt.datetime.fromtimestamp(r["timeslot"]["start_date"], dt.timezone.utc).date() == dt.date(2026, 11, 2)
        )
        monkeypatch.setenv("EVENTS_API_TOKEN", "wrong")
        assert run_flow([]) == 1
    out, err = capsys.readouterr()
    assert f"{len(expected)} rows landed" in out
    assert "HTTP 403" in err and TOKEN not in out + err
    with connect(warehouse_env) as conn, conn.cursor() as cur:
        cur.execute("select attendance_id from raw.event_attendances order by 1")
        assert [r[0] for r in cur.fetchall()] == expected
