"""The GX gate on the mart and the raw tables: real Postgres, real GX, no mocks."""

from __future__ import annotations

import time
import uuid

from assetgraph.specs import CheckStatus, MaterializeResult
from quality import checks
from quality.gate import suite_checks
from quality.suites import SuiteSpec, expect
from tests.quality.conftest import run_checks, sql


def _run_id() -> str:
    return f"test-{uuid.uuid4()}"


def test_duplicated_van_id_fails_the_blocking_uniqueness_check(contract):
    clean = run_checks(checks.mart_checks, contract, _run_id())
    assert {n: r.status for n, r in clean.items()} == {n: CheckStatus.PASSED for n in clean}, {
        n: r.message for n, r in clean.items() if r.status is not CheckStatus.PASSED
    }

    sql(contract, "insert into marts.van_source_code_assignments values (1001, 102, 'form', 'f2', null, now())")
    results = run_checks(checks.mart_checks, contract, _run_id())
    unique = results["gx_van_id_unique"]
    assert unique.status is CheckStatus.FAILED
    assert unique.metadata["unexpected_count"] == 2 and unique.metadata["element_count"] == 5
    assert unique.metadata["samples_masked"] == ["1***"]  # van ids are masked too
    spec = next(d.spec for d in checks.mart_checks if d.key.name == "gx_van_id_unique")
    assert spec.blocking and spec.source == "gx"
    others = {n: r.status for n, r in results.items() if n != "gx_van_id_unique"}
    assert set(others.values()) == {CheckStatus.PASSED}, others


def test_seed_codes_and_upstream_presence_are_checked_in_sql(contract):
    sql(contract, "insert into marts.van_source_code_assignments values (9999, 555, 'form', 'f9', null, now())")
    results = run_checks(checks.mart_checks, contract, _run_id())
    in_seed = results["gx_source_code_in_seed"]
    assert in_seed.status is CheckStatus.FAILED
    assert in_seed.metadata["value_set_size"] == 3 and in_seed.metadata["unexpected_count"] == 1
    assert in_seed.metadata["samples_masked"] == [555]  # a code is not personal: shown as is
    upstream = results["gx_van_id_present_upstream"]
    assert upstream.status is CheckStatus.FAILED and upstream.metadata["unexpected_count"] == 1

    sql(contract, "drop table seeds.source_code_map")
    missing_seed = run_checks(checks.mart_checks, contract, _run_id())
    assert missing_seed["gx_source_code_in_seed"].status is CheckStatus.ERROR
    assert "seeds.source_code_map" in missing_seed["gx_source_code_in_seed"].message
    assert missing_seed["gx_van_id_unique"].status is CheckStatus.PASSED


def test_an_expectation_gx_cannot_run_in_sql_is_an_error_not_a_pass(contract):
    suite = SuiteSpec(
        name="no_sql_impl",
        asset="raw/signups",
        table="raw.signups",
        expectations=(
            # no SqlAlchemyExecutionEngine provider for these metrics in GX 1.x
            expect("json_parseable", "ExpectColumnValuesToBeJsonParseable", column="zip"),
            expect("strftime", "ExpectColumnValuesToMatchStrftimeFormat", column="zip", strftime_format="%Y"),
            expect("missing_column", "ExpectColumnValuesToNotBeNull", column="no_such_column"),
            expect("fine", "ExpectColumnValuesToNotBeNull", column="submission_id"),
        ),
    )
    results = run_checks(suite_checks(suite), contract, _run_id())
    for name in ("json_parseable", "strftime", "missing_column"):
        assert results[name].status is CheckStatus.ERROR, (name, results[name])
        assert results[name].metadata.get("gx_exception") is True
    assert "No provider found" in results["json_parseable"].message
    assert results["fine"].status is CheckStatus.PASSED

    gone = SuiteSpec(name="gone", asset="raw/signups", table="raw.not_landed", expectations=suite.expectations[-1:])
    (res,) = run_checks(suite_checks(gone), contract, _run_id()).values()
    assert res.status is CheckStatus.ERROR and "raw.not_landed" in res.message


def test_raw_suites_pass_on_clean_data_and_filter_by_partition(contract):
    sql(contract, "insert into raw.signups (submission_id, form_id, van_id, _load_id, _partition)"
                  " values (null, 'f1', -5, null, date '2026-01-06')")
    day5 = run_checks(checks.signups_checks, contract, _run_id(), partition="2026-01-05")
    assert day5["gx_submission_id_not_null"].status is CheckStatus.PASSED
    assert day5["gx_email_format"].status is CheckStatus.FAILED  # 1 of 4 is not an address
    assert day5["gx_email_format"].metadata["samples_masked"] == ["n***"]
    day6 = run_checks(checks.signups_checks, contract, _run_id(), partition="2026-01-06")
    failed = {n for n, r in day6.items() if r.status is CheckStatus.FAILED}
    assert failed == {"gx_submission_id_not_null", "gx_load_id_not_null", "gx_van_id_positive"}
    events = run_checks(checks.event_attendances_checks, contract, _run_id())
    assert {r.status for r in events.values()} == {CheckStatus.PASSED}


def test_a_nightly_run_validates_only_the_loads_it_landed(contract):
    # an older load with bad rows; tonight's asset landed only 'load-9', which is clean
    sql(contract, "insert into raw.signups (submission_id, form_id, van_id, email, _load_id, _partition)"
                  " values (null, 'f1', -5, 'x', 'load-old', date '2026-01-04'),"
                  " ('s9', 'f9', 9, 'nine@example.org', 'load-9', date '2026-01-06')")
    tonight = MaterializeResult(row_count=1, metadata={"load_ids": ["load-9"]})
    # a copy left by a run killed two days ago (rows with personal data), and one of a run now
    stale, current = f"_gx_scope_signups_{int(time.time()) - 2 * 86400}_0badc0de", f"_gx_scope_signups_{int(time.time())}_0000abcd"
    for name in (stale, current):
        sql(contract, f"create table raw.{name} as select * from raw.signups")
    scoped = run_checks(checks.signups_checks, contract, _run_id(), materialization=tonight)
    left = [r[0] for r in sql(contract, "select table_name from information_schema.tables "
                                        "where table_schema = 'raw' and table_name like '%gx_scope%'")]
    assert left == [current]  # the stale copy is dropped, the running one's is not touched
    sql(contract, f"drop table raw.{current}")
    assert {r.status for r in scoped.values()} == {CheckStatus.PASSED}, {n: r.message for n, r in scoped.items()}
    assert scoped["gx_van_id_positive"].metadata["element_count"] == 1
    assert scoped["gx_van_id_positive"].metadata["validated"] == "raw.signups, the 1 load of this run"

    # the same checks with no materialization (`assetgraph check`): the whole table, old rows too
    whole = run_checks(checks.signups_checks, contract, _run_id())
    failed = {n for n, r in whole.items() if r.status is CheckStatus.FAILED}
    assert {"gx_submission_id_not_null", "gx_van_id_positive"} <= failed
    assert whole["gx_van_id_positive"].metadata["validated"] == "raw.signups"

    # a night that landed nothing new validates nothing, and that is a pass, not an error
    nothing = MaterializeResult(row_count=0, metadata={"load_ids": []})
    empty = run_checks(checks.signups_checks, contract, _run_id(), materialization=nothing)
    assert {r.status for r in empty.values()} == {CheckStatus.PASSED}, {n: r.message for n, r in empty.items()}

    # a load id that is not a plain identifier is never inlined into SQL
    odd = MaterializeResult(metadata={"load_ids": ["x'); drop table raw.signups; --"]})
    errors = run_checks(checks.signups_checks, contract, _run_id(), materialization=odd)
    assert {r.status for r in errors.values()} == {CheckStatus.ERROR}
    assert "not a plain identifier" in errors["gx_van_id_positive"].message
    assert sql(contract, "select count(*) from raw.signups")[0][0] == 6
    # the short-lived copies the scopes were validated on are gone
    assert sql(contract, "select table_name from information_schema.tables "
                         "where table_schema = 'raw' and table_name like '%gx_scope%'") == []

    # a scope holding every row (a first night) validates the table itself, with the same results
    loads = [r[0] for r in sql(contract, "select distinct _load_id from raw.signups where _load_id is not null")]
    sql(contract, "delete from raw.signups where _load_id is null")
    every = MaterializeResult(metadata={"load_ids": loads})
    first = run_checks(checks.signups_checks, contract, _run_id(), materialization=every)
    table = run_checks(checks.signups_checks, contract, _run_id())
    assert {n: (r.status, r.metadata.get("element_count"), r.metadata.get("unexpected_count")) for n, r in first.items()} == \
        {n: (r.status, r.metadata.get("element_count"), r.metadata.get("unexpected_count")) for n, r in table.items()}
    assert first["gx_van_id_positive"].metadata["validated"] == f"raw.signups, the {len(loads)} loads of this run"


def test_redshift_is_configured_and_fails_closed_when_unreachable():
    from assetgraph.warehouse import Warehouse
    from quality.gx_engine import datasource_factory, validate_suite
    from quality.suites import MART_SUITE

    rs = Warehouse(kind="redshift", host="127.0.0.1", port=1, user="etl", dbname="dw", password="s3cret-pw")
    assert datasource_factory(rs) == "redshift" and rs.sqlalchemy_url().startswith("redshift+psycopg2://")
    results = validate_suite(MART_SUITE, rs)
    assert {r.status for r in results.values()} == {CheckStatus.ERROR}
    assert all("s3cret-pw" not in r.message for r in results.values())
