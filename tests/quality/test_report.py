"""The data-quality report: built from the catalog, self-contained, and free of personal data."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from assetgraph import catalog
from quality import checks
from quality.errors import ReportError
from quality.report import build_report, report_markdown
from tests.quality.conftest import PEOPLE, run_checks, sql

RUN = "run-2026-01-21"


def _raw_personal_values() -> list[str]:
    values = []
    for _, _, first, last, email, phone, _ in PEOPLE:
        digits = re.sub(r"\D", "", phone)
        values += [first, last, email, phone, digits, digits[-7:], email.split("@")[0]]
    return values + ["ev.person@example.org", "555-600-1234", "not-an-email"]


def test_report_is_self_contained_masked_and_shows_trends(contract, tmp_path):
    catalog.ensure_catalog(contract)
    t0 = dt.datetime(2026, 1, 18, 3, 0)
    for i, status in enumerate(["passed", "passed", "failed"]):
        catalog.record_check(
            contract, run_id=f"prev-{i}", asset_key="marts/van_source_code_assignments",
            check_name="gx_van_id_unique", partition_key=None, source="gx", blocking=True, status=status,
        )
        sql(contract, "update asset_catalog.check_results set evaluated_at = %s where run_id = %s",
            (t0 + dt.timedelta(days=i), f"prev-{i}"))
    # tonight: a duplicated VAN ID and a malformed email
    sql(contract, "insert into marts.van_source_code_assignments values (1003, 101, 'form', 'f1', null, now())")
    catalog.record_run_start(contract, RUN, "+sync/van_source_codes", [], "schedule")
    for key, n in (("raw/signups", 4), ("marts/van_source_code_assignments", 5)):
        catalog.record_materialization(
            contract, run_id=RUN, asset_key=key, partition_key=None, status="success",
            started_at=catalog.utcnow(), finished_at=catalog.utcnow(), row_count=n,
        )
    run_checks(checks.signups_checks, contract, RUN, record=True)
    results = run_checks([*checks.mart_checks, checks.volume_circuit_breaker], contract, RUN, record=True)
    assert results["gx_van_id_unique"].status.value == "failed"
    # a message from elsewhere (e.g. a dbt test) that carries raw values must be scrubbed too
    catalog.record_check(
        contract, run_id=RUN, asset_key="raw/signups", check_name="dbt_email_domain", partition_key=None,
        source="dbt", blocking=False, status="failed",
        message="got rosalind.okonkwo@example.org and (555) 201-7788",
        metadata={"failures": 2, "validated": "staging.stg_signups, the rows this build wrote"},
    )
    catalog.record_materialization(
        contract, run_id=RUN, asset_key="sync/van_source_codes", partition_key=None, status="skipped",
        started_at=None, finished_at=None, message="blocked by marts/van_source_code_assignments:gx_van_id_unique",
    )
    catalog.record_run_end(contract, RUN, "failed", "blocked by marts/van_source_code_assignments:gx_van_id_unique")

    stored = " ".join(str(v) for row in sql(contract, "select message, metadata from asset_catalog.check_results"
                                                      " where source <> 'dbt'") for v in row)
    path = build_report(contract, RUN, tmp_path / "reports")
    page = path.read_text(encoding="utf-8")
    markdown = report_markdown(contract, RUN)
    for text in (page, markdown, stored):
        leaked = [v for v in _raw_personal_values() if v in text]
        assert not leaked, leaked

    assert path.name == f"quality-{RUN}.html"
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", page, re.I)
    assert not re.search(r"url\(\s*[\"']?\s*(https?:)?//", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "r***@e***.org" in page and "***88" in page  # the scrubbed dbt message
    assert 'class="badge failed"' in page and "gx_van_id_unique" in page
    assert "2 of 5 rows unexpected" in page and "one row per van_id" in page
    assert "PPF[F]" in markdown  # three previous runs, then this one
    assert "**Blocking checks did not pass:**" in markdown and "gx_van_id_unique" in markdown
    assert "sync/van_source_codes" in page and "skipped" in page
    # every check says what it read
    assert "on staging.stg_signups, the rows this build wrote" in page
    assert "(on staging.stg_signups, the rows this build wrote)" in markdown
    assert '<div class="muted">on marts.van_source_code_assignments</div>' in page

    with pytest.raises(ReportError):
        build_report(contract, "no-such-run", tmp_path)
