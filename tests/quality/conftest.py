"""Fixtures for the quality tests: the contract tables (created with SQL, as the other parts of
the pipeline would), and a helper that evaluates checks the way the runner does."""

from __future__ import annotations

import os
from typing import Iterable

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from assetgraph import catalog  # noqa: E402
from assetgraph.definitions import AssetContext, CheckDefinition  # noqa: E402
from assetgraph.keys import AssetKey  # noqa: E402
from assetgraph.specs import CheckResult, MaterializeResult  # noqa: E402
from assetgraph.warehouse import Warehouse, connect  # noqa: E402

CONTRACT_DDL = """
create schema if not exists raw;
create schema if not exists seeds;
create schema if not exists marts;
create table raw.signups (
    submission_id text, form_id text, submitted_at timestamptz, first_name text, last_name text,
    email text, phone text, zip text, van_id bigint, utm_source text, utm_medium text,
    utm_campaign text, _loaded_at timestamptz, _source_file text, _source_line integer,
    _load_id text, _partition date
);
create table raw.event_attendances (
    attendance_id bigint, event_id bigint, event_title text, timeslot_start timestamptz,
    attended_at timestamptz, email text, phone text, first_name text, last_name text, zip text,
    van_id bigint, utm_source text, _loaded_at timestamptz, _source_page text, _load_id text,
    _partition date
);
create table seeds.source_code_map (form_id text, utm_source text, source_code_id integer);
insert into seeds.source_code_map values ('f1', null, 101), ('f2', null, 102), (null, 'ev', 201);
create table marts.van_source_code_assignments (
    van_id bigint, source_code_id integer, first_touch_channel text, form_id text,
    utm_source text, touched_at timestamp
);
"""

# People with personal data that must never show up in a check result or report.
PEOPLE = [
    # submission_id, form_id, first, last, email, phone, van_id
    ("s1", "f1", "Rosalind", "Okonkwo", "rosalind.okonkwo@example.org", "(555) 201-7788", 1001),
    ("s2", "f1", "Tadeusz", "Wiśniewski", "tadeusz.w@mailbox.example.net", "555-304-9911", 1002),
    ("s3", "f2", "Marisol", "Quintero", "marisol.q@example.com", "5554408123", 1003),
    ("s4", "f2", "Bartholomew", "Ng", "not-an-email-bartholomew", "555.771.2040", 1004),
]


def sql(wh: Warehouse, statement: str, params: Iterable | None = None) -> list[tuple]:
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(statement, tuple(params) if params is not None else None)
        return cur.fetchall() if cur.description else []


@pytest.fixture
def contract(warehouse: Warehouse) -> Warehouse:
    """The contract tables, with four signups, one event attendance, and a clean mart."""
    sql(warehouse, CONTRACT_DDL)
    with connect(warehouse) as conn, conn.cursor() as cur:
        for sid, form, first, last, email, phone, van in PEOPLE:
            cur.execute(
                "insert into raw.signups (submission_id, form_id, first_name, last_name, email, phone,"
                " van_id, _load_id, _partition, submitted_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, 'load-1', date '2026-01-05', now())",
                (sid, form, first, last, email, phone, van),
            )
        cur.execute(
            "insert into raw.event_attendances (attendance_id, event_id, email, phone, van_id, utm_source,"
            " _load_id, _partition) values (1, 77, 'ev.person@example.org', '555-600-1234', 2001, 'ev',"
            " 'load-2', date '2026-01-05')"
        )
        cur.execute(
            "insert into marts.van_source_code_assignments values"
            " (1001, 101, 'form', 'f1', null, now()), (1002, 101, 'form', 'f1', null, now()),"
            " (1003, 102, 'form', 'f2', null, now()), (2001, 201, 'event', null, 'ev', now())"
        )
    return warehouse


def run_checks(
    defs: Iterable[CheckDefinition], wh: Warehouse, run_id: str, *, partition: str | None = None,
    record: bool = False, materialization: MaterializeResult | None = None,
) -> dict[str, CheckResult]:
    """Evaluate checks like the runner does (exception -> error), optionally into the catalog;
    `materialization`: what the asset returned in this step, as the runner passes it."""
    out: dict[str, CheckResult] = {}
    for d in defs:
        ctx = AssetContext(key=d.key.asset, run_id=run_id, warehouse=wh, partition=partition,
                           materialization=materialization)
        try:
            res = d.fn(ctx)
        except Exception as exc:  # same rule as the runner
            res = CheckResult.errored(f"{type(exc).__name__}: {exc}")
        out[d.key.name] = res
        if record:
            catalog.record_check(
                wh, run_id=run_id, asset_key=str(d.key.asset), check_name=d.key.name,
                partition_key=partition, source=d.spec.source, blocking=d.spec.blocking,
                status=res.status.value, message=res.message, metadata=res.metadata,
            )
    return out


MART = AssetKey.from_coercible("marts/van_source_code_assignments")
