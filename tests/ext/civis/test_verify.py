"""verify on the embedded Postgres: the "live" tables are made by running each original Civis
script (transpiled Redshift -> Postgres by sqlglot) over the same raw data, the way Civis made
them; the migrated models are built into shadow schemas and compared. A faithful migration
passes; a live table that differs fails, naming the model and how it differs. Redshift itself
cannot run here: the SQL portability is covered by the Redshift check in test_importing."""

from __future__ import annotations

import json

import pytest
import sqlglot
from sqlglot import exp

from assetgraph.ext.civis.contract import PARITY_CHECK
from assetgraph.ext.civis.verify import SHADOW_SUFFIX, verify
from assetgraph.warehouse import connect
from tests.ext.civis import import_corpus as corpus
from tests.ext.civis.import_fixtures import imported  # noqa: F401 (pytest fixtures)

LIVE_SCRIPTS = (101, 102, 103, 104, 105, 106, 107, 108)
# Tables that existed in Civis before the scripts ran (DELETE/TRUNCATE + INSERT into them)
PREEXISTING = {
    "analytics.event_counts": "person_id integer, event_type varchar(64), events bigint, last_attended_at timestamp",
    "analytics.donor_totals": "person_id integer, total_amount decimal(12, 2), gifts bigint",
}


def _literal(v):
    return "null" if v is None else (str(v) if isinstance(v, (int, float)) else "'" + str(v).replace("'", "''") + "'")


def _postgres(stmt: exp.Expression) -> str | None:
    """One Civis statement as Postgres runs it, or None for what Postgres has no use for."""
    if isinstance(stmt, (exp.Command, exp.Grant, exp.Copy)):
        return None
    props = stmt.args.get("properties") if isinstance(stmt, exp.Create) else None
    if props is not None:
        kept = [p for p in props.expressions if not isinstance(
            p, (exp.DistKeyProperty, exp.SortKeyProperty, exp.DistStyleProperty))]
        stmt.set("properties", exp.Properties(expressions=kept) if kept else None)
    return stmt.sql("postgres")


def land_raw(cur) -> None:
    """The raw tables the Civis import (Dbsync) lands, with the corpus's rows."""
    cur.execute("create schema raw")
    for table, (cols, rows) in corpus.RAW_TABLES.items():
        cur.execute(f"create table {table} ({cols})")
        for row in rows:
            cur.execute(f"insert into {table} values ({', '.join(_literal(v) for v in row)})")


def make_live(wh) -> None:
    with connect(wh) as conn, conn.cursor() as cur:
        land_raw(cur)
        cur.execute("create schema analytics")
        for table, cols in PREEXISTING.items():
            cur.execute(f"create table {table} ({cols})")
        for id_ in LIVE_SCRIPTS:
            for stmt in sqlglot.parse(corpus.SQL[id_][1], read="redshift"):
                sql = _postgres(stmt)
                if sql:
                    cur.execute(sql)


@pytest.fixture
def live_project(imported, warehouse_env, monkeypatch):
    root, _, _ = imported
    monkeypatch.setenv("DBT_PROFILES_DIR", str(root / "profiles"))
    make_live(warehouse_env)
    return root, warehouse_env


def _checks(wh, run_id):
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("select asset_key, status, message, metadata from asset_catalog.check_results"
                    " where run_id = %s and check_name = %s order by asset_key", (run_id, PARITY_CHECK))
        return {r[0]: (r[1], r[2], json.loads(r[3])) for r in cur.fetchall()}


def _live(wh, sql):
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_faithful_migration_passes_then_a_changed_live_table_fails(live_project):
    root, wh = live_project
    selection = " ".join(corpus.VERIFIABLE)
    before = _live(wh, "select * from analytics.people order by person_id")

    result = verify(selection, root)
    assert sorted(m.key for m in result.models) == sorted(corpus.VERIFIABLE)
    assert result.ok, "\n".join(result.lines())
    assert all(m.live_rows == m.shadow_rows and m.live_rows > 0 for m in result.models)
    assert result.lines()[-1].endswith("the migration matches the live tables")
    checks = _checks(wh, result.run_id)
    assert set(checks) == set(corpus.VERIFIABLE) and {s for s, _, _ in checks.values()} == {"passed"}
    # live tables were only read; shadows are gone
    assert _live(wh, "select * from analytics.people order by person_id") == before
    shadows = _live(wh, f"select nspname from pg_namespace where nspname like '%{SHADOW_SUFFIX}'")
    assert shadows == []

    # Civis's table drifts from what the migrated model builds
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("update analytics.donor_totals set total_amount = total_amount + 1 where person_id = 1")
        cur.execute("delete from analytics.people where person_id = 5")
    result = verify("analytics/donor_totals analytics/people analytics/daily_signups", root)
    assert not result.ok
    by_key = {m.key: m for m in result.models}
    assert by_key["analytics/daily_signups"].status == "passed"
    donors = by_key["analytics/donor_totals"]
    assert donors.status == "failed" and donors.problems == ("column total_amount: values differ",)
    people = by_key["analytics/people"]
    assert people.status == "failed"
    assert "row count: live 4, model 5" in people.problems
    # the sample shows the differing row with personal data masked
    assert any(s.startswith("only model: person_id=5, email=***, first_name=***") for s in people.sample)
    text = "\n".join(result.lines())
    assert "analytics/donor_totals (analytics.donor_totals): column total_amount: values differ" in text
    assert "edsger" not in text.lower()
    checks = _checks(wh, result.run_id)
    assert checks["analytics/people"][0] == "failed"
    assert checks["analytics/people"][2]["live_rows"] == 4 and checks["analytics/people"][2]["shadow_rows"] == 5
    assert "edsger" not in json.dumps(checks).lower()


def test_a_model_whose_live_table_is_missing_fails_by_name(live_project):
    root, wh = live_project
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute("drop table analytics.first_touch")
    result = verify("analytics/first_touch", root)
    assert not result.ok
    assert result.models[0].problems == ("live table analytics.first_touch does not exist",)


def test_an_unknown_selection_is_one_clear_error(imported):
    from assetgraph.ext.civis.errors import CivisVerifyError

    root, _, _ = imported
    with pytest.raises(CivisVerifyError, match="'marts/nothing' matches no migrated model"):
        verify("marts/nothing", root)
