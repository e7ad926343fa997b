"""The incremental, ledger-aware mart `van_source_code_assignments` on real Postgres and real
dbt: after each night it equals a rebuild from scratch, and a night writes only its people.

Night 1 builds everything. Between nights the sync leaves its ledger: 1001 applied, 1002
failed with a 404 (an older person who must be retried), 1003 pending (a killed run). Night 2
lands a new person, a returning person whose backfilled submission is now their first touch
(their code changes), and a new person the ledger already has as applied. Night 3: the sync
applied everyone still owed; one more new person.
"""

from __future__ import annotations

import pytest

from tests.dbt import fixtures as fx
from tests.dbt.conftest import Db, DbtRunner

MART = "marts.van_source_code_assignments"
ROWS = (f"select van_id, source_code_id, matched_on, first_touch_channel, first_touch_id from {MART}"
        " order by van_id")
NIGHT_3 = "2026-11-04 02:00:00+00"

NIGHT_2_SIGNUPS = [
    # a new person: owed a code
    ("n1", "petition-climate-2026", "2026-11-02 12:00+00", "New", "One", "n1@example.org", None, None,
     700001, None, fx.NIGHT_2),
    # Priya (1003, default code on night 1) with a backfilled, older petition signup: her first
    # touch and code change; the mart must hold one row for her, with the new code
    ("n2", "petition-climate-2026", "2026-10-20 08:00+00", "Priya", "Patel", "priya@example.net", None,
     None, 1003, None, fx.NIGHT_2),
    # a new person the ledger already has as applied (applied outside the nightly run)
    ("n3", "newsletter", "2026-11-02 13:00+00", "Applied", "Elsewhere", "n3@example.org", None, None,
     700003, "google", fx.NIGHT_2),
]
NIGHT_3_SIGNUPS = [
    ("n4", "volunteer-signup", "2026-11-03 12:00+00", "New", "Four", "n4@example.org", None, None,
     700004, None, NIGHT_3),
]


NIGHT_4_SIGNUPS = [
    ("n5", "volunteer-signup", "2026-11-04 12:00+00", "New", "Five", "n5@example.org", None, None,
     700005, None, "2026-11-05 02:00:00+00"),
]


def _night_with_reader(db, dbt, filenodes):
    """Only the incremental build: the full refresh would wait for the reader's lock."""
    before = db.rows(FILENODE)[0][0]
    build = dbt("build")
    filenodes.extend([before, db.rows(FILENODE)[0][0]])
    return build, db.rows(ROWS)


def _ledger(db, rows) -> None:
    for van_id, code, status in rows:
        db.execute("delete from sync.van_sync_ledger where van_id = %s", (van_id,))
        db.execute("insert into sync.van_sync_ledger values (%s, %s, %s, now())", (van_id, code, status))


FILENODE = f"select pg_relation_filenode('{MART}')"  # TRUNCATE gives the table a new file; DELETE does not


def _night(db, dbt, filenodes=None):
    """`dbt build` (incremental), the mart, then a full refresh of the mart and its rows.
    `filenodes`: gets the mart's file before and after the build."""
    before = db.rows(FILENODE)[0][0]
    build = dbt("build")
    if filenodes is not None:
        filenodes.extend([before, db.rows(FILENODE)[0][0]])
    incremental = db.rows(ROWS)
    dbt("run", "--full-refresh", "--select", "van_source_code_assignments")
    rebuilt = db.rows(ROWS)
    # back to an incremental state written by `build` for the next night
    return build, incremental, rebuilt


@pytest.fixture(scope="module")
def nights(module_warehouse, tmp_path_factory):
    db = Db(module_warehouse)
    db.execute(fx.RAW_DDL)
    fx.insert_signups(db, fx.SIGNUPS)
    fx.insert_attendances(db, fx.ATTENDANCES)
    fx.insert_ledger(db, fx.LEDGER)
    dbt = DbtRunner(module_warehouse, tmp_path_factory.mktemp("dbt"))
    seen = {}
    seen["night1"] = dbt("build"), db.rows(ROWS)

    _ledger(db, [(1001, 100101, "applied"), (1002, 100203, "not_found"), (1003, 100001, "pending"),
                 (700003, 100203, "applied")])
    fx.insert_signups(db, NIGHT_2_SIGNUPS)
    seen["night2"] = _night(db, dbt, seen.setdefault("night2_files", []))

    owed = [(van, code, "applied") for van, code, *_ in seen["night2"][1]]
    _ledger(db, owed)
    fx.insert_signups(db, NIGHT_3_SIGNUPS)
    seen["night3"] = _night(db, dbt, seen.setdefault("night3_files", []))

    # night 4: everyone applied again, one more person, and an analyst's open transaction has
    # read the mart (it holds a lock until it ends): the night must not wait for it
    _ledger(db, [(van, code, "applied") for van, code, *_ in seen["night3"][1]])
    fx.insert_signups(db, NIGHT_4_SIGNUPS)
    reader = Db(module_warehouse)
    reader.conn.autocommit = False
    reader.rows(f"select count(*) from {MART}")
    try:
        seen["night4"] = _night_with_reader(db, dbt, seen.setdefault("night4_files", []))
    finally:
        reader.conn.rollback()
        reader.close()
    yield seen
    db.close()


def test_night_2_drops_the_applied_keeps_the_failed_and_redoes_the_changed(nights):
    (_, night1), (build, incremental, rebuilt) = nights["night1"], nights["night2"]
    assert {r[0] for r in night1} == set(fx.EXPECTED_ASSIGNMENTS)
    by_van = {r[0]: r for r in incremental}
    assert 1001 not in by_van  # applied since the last build
    assert 1002 in by_van and 1005 in by_van  # a 404 and an older failure: retried
    assert 1003 in by_van  # pending (a killed run): still owed
    assert by_van[1003][1:3] == (100101, "form_id") and by_van[1003][4] == "n2"  # its new first touch
    assert 700001 in by_van and 700003 not in by_van  # new; new but applied already
    assert incremental == rebuilt  # the same as a rebuild from scratch


def test_night_2_writes_only_the_people_whose_first_touch_changed(nights):
    build, _, _ = nights["night2"]
    # 700001 and 1003 (Priya again); 700003 is excluded as applied
    assert build.rows_affected("van_source_code_assignments") == 2


def test_night_3_after_everyone_was_applied(nights):
    build, incremental, rebuilt = nights["night3"]
    assert [r[0] for r in incremental] == [700004]
    assert incremental == rebuilt
    assert build.rows_affected("van_source_code_assignments") == 1
    tests = [r for r in build.run_results["results"]
             if r["unique_id"].startswith("test.") and "van_source_code_assignments" in r["unique_id"]]
    assert tests and all(r["status"] == "pass" for r in tests)


def test_a_night_that_finds_most_rows_applied_rewrites_the_mart_instead_of_deleting(nights):
    # night 3: every stored row was applied, so the mart is emptied (a new file), not deleted
    # row by row; night 2 kept most rows (failures, pending), so it deleted the applied one
    night2_before, night2_after = nights["night2_files"]
    night3_before, night3_after = nights["night3_files"]
    assert night3_after != night3_before
    assert night2_after == night2_before


def test_a_reader_holding_the_mart_makes_the_night_delete_instead_of_waiting(nights):
    build, incremental = nights["night4"]
    before, after = nights["night4_files"]
    assert after == before  # no TRUNCATE: it would have waited for the reader
    assert [r[0] for r in incremental] == [700005]  # the applied rows are gone all the same
    assert build.rows_affected("van_source_code_assignments") == 1
