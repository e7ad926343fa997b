"""The shipped dbt project on a real (embedded) Postgres: one `dbt build` for the module on
hand-made rows plus a bulk night, then a second night with 1 % new rows."""

from __future__ import annotations

import json

import pytest

from tests.dbt import fixtures as fx
from tests.dbt.conftest import Db, DbtRunner

BULK_SIGNUPS = 1000
BULK_ATTENDANCES = 200

# A bulk first night: 1000 signups by 800 people (some return), 200 attendances, half of them
# without a VAN ID but with the email of a signup.
BULK_NIGHT_1 = f"""
insert into raw.signups
select
    'b' || g,
    (array['petition-climate-2026', 'newsletter', 'volunteer-signup', 'donate-lead'])[1 + g % 4],
    timestamptz '2026-10-01 00:00+00' + g * interval '1 minute',
    'First' || g, 'Last' || g,
    'Bulk' || (g % 800) || '@Example.org',
    '(202) 555-' || lpad((g % 10000)::text, 4, '0'),
    '20001',
    500000 + g % 800,
    (array['facebook', 'google', null, 'sms'])[1 + g % 4],
    null, null,
    timestamptz '{fx.NIGHT_1}',
    'bulk.csv', g, 'load-bulk-1', date '2026-10-01'
from generate_series(1, {BULK_SIGNUPS}) as g;

insert into raw.event_attendances
select
    20000 + g, 300 + g % 5, 'Canvass', timestamptz '2026-10-02 00:00+00',
    timestamptz '2026-10-02 00:00+00' + g * interval '1 minute',
    'bulk' || (g * 3 % 800) || '@example.org', null, null, null, null,
    case when g % 2 = 0 then 500000 + g * 3 % 800 end,
    'instagram',
    timestamptz '{fx.NIGHT_1}', 'page' || (g / 50), 'load-bulk-1', date '2026-10-02'
from generate_series(1, {BULK_ATTENDANCES}) as g;
"""

# The second night: 1 % new rows (11 signups, 2 attendances).
NIGHT_2_SIGNUPS = [
    # six new people
    *[
        (f"n{i}", "volunteer-signup", "2026-11-02 12:00+00", "New", f"Person{i}",
         f"new{i}@example.org", "2025550100", "20001", 600000 + i, None, fx.NIGHT_2)
        for i in range(1, 7)
    ],
    # two returning people touching again later: their first touch does not change
    ("n7", "newsletter", "2026-11-02 12:00+00", "R", "One", "bulk1@example.org", None, None,
     500001, "sms", fx.NIGHT_2),
    ("n8", "newsletter", "2026-11-02 12:00+00", "R", "Two", "bulk2@example.org", None, None,
     500002, "sms", fx.NIGHT_2),
    # a returning person whose backfilled submission is older than anything seen: new first touch
    ("n9", "newsletter", "2026-09-01 08:00+00", "R", "Three", "bulk3@example.org", None, None,
     500003, "google", fx.NIGHT_2),
    # the first signup with the email of night 1's unmatched attendee 9004: that older
    # attendance (not landed tonight) becomes this new person's first touch
    ("n10", "newsletter", "2026-11-05 08:00+00", "No", "Body", "nobody@example.com", None, None,
     600010, "google", fx.NIGHT_2),
    # a submission landed again by an overlapping export: deduplicated, not a new touch
    ("b5", "volunteer-signup", "2026-10-01 00:05+00", "First5", "Last5", "bulk5@example.org",
     None, None, 500005, None, fx.NIGHT_2),
]
NIGHT_2_ATTENDANCES = [
    # a new person's attendance, matched by email to the new signup n1 (earlier than it)
    (29001, 301, "2026-11-01 17:00+00", "NEW1@example.org", None, "instagram", fx.NIGHT_2, "p1"),
    # a known person's later attendance
    (29002, 301, "2026-11-02 17:00+00", "x@example.org", 500010, None, fx.NIGHT_2, "p1"),
]
# VAN IDs touched by night 2's new rows (n1..n6, n7, n8, n9, n10, 29002; 29001 is n1's person)
NIGHT_2_VAN_IDS = {600001, 600002, 600003, 600004, 600005, 600006, 600010, 500001, 500002, 500003, 500010}

FIRST_TOUCH = ("select van_id, channel, touch_id, form_id, event_id, utm_source, touched_at, _loaded_at"
               " from intermediate.int_people_first_touch order by van_id")
# every column but `_built_at` (when the invocation that wrote the row started)
SIGNUPS = "select (to_jsonb(s) - '_built_at')::text from staging.stg_signups as s order by submission_id"


@pytest.fixture(scope="module")
def project(module_warehouse, tmp_path_factory):
    db = Db(module_warehouse)
    db.execute(fx.RAW_DDL)
    fx.insert_signups(db, fx.SIGNUPS)
    fx.insert_attendances(db, fx.ATTENDANCES)
    fx.insert_ledger(db, fx.LEDGER)
    db.execute(BULK_NIGHT_1)
    dbt = DbtRunner(module_warehouse, tmp_path_factory.mktemp("dbt"))
    yield db, dbt
    db.close()


@pytest.fixture(scope="module")
def first_night(project):
    """`dbt build` once, and what the tests want to see, read right after it."""
    db, dbt = project
    build = dbt("build")
    seen = {
        "assignments": db.rows(
            "select van_id, source_code_id, matched_on, first_touch_channel"
            " from marts.van_source_code_assignments where van_id < 2000 order by van_id"
        ),
        "assignment_count": db.rows("select count(*) from marts.van_source_code_assignments")[0][0],
        "people": db.rows("select count(*) from intermediate.int_people_first_touch")[0][0],
        "ana": db.rows(
            "select submission_id, email, phone, zip, first_name, utm_source"
            " from staging.stg_signups where submission_id in ('s1', 's8') order by 1"
        ),
        "blank_utm": db.rows("select utm_source from staging.stg_signups where submission_id = 's3'"),
        "attendances_9001": db.rows(
            "select count(*) from staging.stg_event_attendances where attendance_id = 9001"
        )[0][0],
    }
    return build, seen


@pytest.fixture(scope="module")
def second_night(project, first_night):
    """Land 1 % new rows and run again; then a full refresh of the same model to compare."""
    db, dbt = project
    fx.insert_signups(db, NIGHT_2_SIGNUPS)
    fx.insert_attendances(db, NIGHT_2_ATTENDANCES)
    run = dbt("run")
    incremental = db.rows(FIRST_TOUCH), db.rows(SIGNUPS)
    dbt("run", "--full-refresh", "--select", "stg_signups", "int_people_first_touch")
    rebuilt = db.rows(FIRST_TOUCH), db.rows(SIGNUPS)
    return run, incremental, rebuilt


def test_build_passes_with_every_node(first_night):
    build, _ = first_night
    statuses = {r["unique_id"]: r["status"] for r in build.run_results["results"]}
    bad = {uid: s for uid, s in statuses.items() if s not in ("success", "pass", "warn")}
    assert not bad, build.output[-3000:]
    kinds = {uid.split(".")[0] for uid in statuses}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    assert statuses["unit_test.pipeline.stg_signups.stg_signups_normalises_and_deduplicates"] == "pass"


def test_mart_has_expected_rows(first_night):
    _, seen = first_night
    got = {van: (code, rule, channel) for van, code, rule, channel in seen["assignments"]}
    assert got == fx.EXPECTED_ASSIGNMENTS
    assert 1004 not in got  # 'applied' in the ledger
    assert 1005 in got  # only a failed attempt
    # every bulk person (500000..500799) has a first touch and none is in the ledger
    assert seen["assignment_count"] == len(fx.EXPECTED_ASSIGNMENTS) + 800
    assert seen["people"] == len(fx.EXPECTED_ASSIGNMENTS) + 1 + 800  # + 1004


def test_staging_normalises_and_deduplicates(first_night):
    _, seen = first_night
    assert seen["ana"] == [
        ("s1", "ana.rivera@example.org", "2025550143", "02134", "Ana", "facebook"),
        ("s8", "ana.rivera@example.org", "2025550143", "02134", "Ana", None),
    ]
    assert seen["blank_utm"] == [(None,)]
    assert seen["attendances_9001"] == 1


def test_second_night_processes_only_new_rows(second_night):
    run, incremental, rebuilt = second_night
    new_rows = len(NIGHT_2_SIGNUPS) + len(NIGHT_2_ATTENDANCES)
    total_rows = BULK_SIGNUPS + BULK_ATTENDANCES + new_rows
    assert new_rows / total_rows < 0.011
    affected = run.rows_affected("int_people_first_touch")
    assert affected == len(NIGHT_2_VAN_IDS) <= new_rows
    # staging re-ranks only the submissions with a row above its watermark: tonight's (b5's old
    # and new row give one winner), and s1, whose fixture has a duplicate stamped with night 2's
    # load time that lost to its older row on night 1, so the watermark stayed below it
    assert run.rows_affected("stg_signups") == len(NIGHT_2_SIGNUPS) + 1
    # ...and the incremental results equal a rebuild from scratch
    assert incremental == rebuilt
    by_van = {row[0]: row for row in incremental[0]}
    assert by_van[500003][2] == "n9"  # the backfilled older submission became the first touch
    assert by_van[600001][1:3] == ("event", "29001")  # matched by email, earlier than n1
    assert by_van[500001][2] != "n7"
    assert by_van[600010][1:3] == ("event", "9004")  # an old attendance, matched by a new signup


def test_docs_generate_works(project, second_night):
    _, dbt = project
    dbt("docs", "generate", "--no-compile")
    catalog = json.loads((dbt.target_path / "catalog.json").read_text())
    assert "model.pipeline.van_source_code_assignments" in catalog["nodes"]
    assert "source.pipeline.raw.signups" in catalog["sources"]


NIGHT_3 = "2026-11-04 02:00:00+00"
EMAIL_RULE = "row_condition_stg_signups_email"  # the start of the test's generated name


def _tests_of(result, model: str) -> dict[str, dict]:
    """The results of the tests on `model` (not another model's relationships test to it)."""
    return {
        r["unique_id"].split(".")[2]: r for r in result.run_results["results"]
        if r["unique_id"].startswith("test.") and f"_{model}_" in r["unique_id"].split("__ref_")[0]
    }


@pytest.fixture(scope="module")
def third_night(project, second_night):
    """An old row of stg_signups broken by hand (an upper-case email, which the model never
    writes), then one new raw row without submitted_at: `dbt build` of the model, then `dbt test`."""
    db, dbt = project
    db.execute("update staging.stg_signups set email = upper(email) where submission_id = 'b10'")
    fx.insert_signups(db, [("n11", "newsletter", None, "No", "Time", "notime@example.org", None, None,
                            600011, None, NIGHT_3)])
    build = dbt("build", "--select", "stg_signups", check=False)
    built = db.rows("select submission_id from staging.stg_signups"
                    " where _built_at = (select max(_built_at) from staging.stg_signups)")
    test = dbt("test", "--select", "stg_signups", check=False)
    build_int = dbt("build", "--select", "int_people_first_touch", check=False)
    return build, built, test, build_int


def test_a_build_tests_the_rows_it_wrote_and_dbt_test_every_row(third_night):
    build, built, test, build_int = third_night
    assert built == [("n11",)]
    in_build, in_test = _tests_of(build, "stg_signups"), _tests_of(test, "stg_signups")
    email_rule = next(name for name in in_build if name.startswith(EMAIL_RULE))
    # the build checks only its own row: the new row's missing timestamp fails it...
    assert in_build["not_null_stg_signups_submitted_at"]["status"] == "fail"
    assert in_build["not_null_stg_signups_submitted_at"]["failures"] == 1
    # ...and the old row broken by hand is not looked at
    assert in_build[email_rule]["status"] == "pass"
    assert all("_built_at" in r["compiled_code"] for r in in_build.values())
    # the same for the intermediate model: the new person's touch has no time
    in_build_int = _tests_of(build_int, "int_people_first_touch")
    assert in_build_int and all("_built_at" in r["compiled_code"] for r in in_build_int.values())
    assert in_build_int["not_null_int_people_first_touch_touched_at"]["failures"] == 1
    # dbt test (what `assetgraph check` runs) checks every row, and finds both
    assert in_test[email_rule]["status"] == "fail"
    assert in_test["not_null_stg_signups_submitted_at"]["status"] == "fail"
    assert not any("_built_at" in r["compiled_code"] for r in in_test.values())
