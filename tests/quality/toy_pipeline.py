"""A stand-in pipeline for the end-to-end gate test: the real asset keys, trivial bodies.
The tables come from the `contract` fixture; the mart asset can inject a duplicated VAN ID."""

from __future__ import annotations

from assetgraph import MaterializeResult, asset
from assetgraph.warehouse import connect

CALLS: list[str] = []
INJECT_DUPLICATE = {"value": True}


def _count(context, table: str) -> int:
    with connect(context.warehouse) as conn, conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        return int(cur.fetchone()[0])


@asset("raw/signups")
def signups(context):
    return MaterializeResult(row_count=_count(context, "raw.signups"))


@asset("raw/event_attendances")
def event_attendances(context):
    return MaterializeResult(row_count=_count(context, "raw.event_attendances"))


@asset("marts/van_source_code_assignments", deps=["raw/signups", "raw/event_attendances"])
def assignments(context):
    if INJECT_DUPLICATE["value"]:
        with connect(context.warehouse) as conn, conn.cursor() as cur:
            cur.execute("insert into marts.van_source_code_assignments values (1001, 102, 'form', 'f2', null, now())")
    return MaterializeResult(row_count=_count(context, "marts.van_source_code_assignments"))


@asset("sync/van_source_codes", deps=["marts/van_source_code_assignments"], kind="sync")
def sync_codes(context):
    CALLS.append("sync/van_source_codes")  # stands for the EveryAction HTTP calls
    return MaterializeResult(row_count=_count(context, "marts.van_source_code_assignments"))
