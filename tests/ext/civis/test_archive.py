"""`archive_objects`: only objects whose last verify passed are switched off, shown by the fake
Civis API's request log (the real civis-python client, a real Postgres catalog)."""

from __future__ import annotations

import json

import pytest

from assetgraph.ext.civis._client import connect
from assetgraph.ext.civis.archive import archive_objects, decide
from assetgraph.ext.civis.contract import MigratedObject, read_report
from assetgraph.ext.civis.errors import CivisArchiveError
from tests.ext.civis.estate import ELIGIBLE, fake_civis, record_parity, write_report  # noqa: F401

_WRITES = ("PATCH", "PUT")


def _writes(fake):
    return [r for r in fake.requests if r.method in _WRITES]


def _kind_id(path: str) -> tuple[str, int]:
    parts = path.strip("/").split("/")
    if parts[0] == "scripts":
        return parts[1], int(parts[2])
    return parts[0], int(parts[1])


def test_dry_run_sends_nothing_and_says_what_it_would_do(fake_civis, warehouse, tmp_path):
    write_report(tmp_path)
    record_parity(warehouse)
    result = archive_objects(None, tmp_path, warehouse=warehouse)

    assert fake_civis.requests == ()  # a dry run does not even connect
    lines = "\n".join(result.lines())
    assert result.ok and result.dry_run
    assert result.count("would") == len(ELIGIBLE) and result.count("skipped") == 5
    assert 'would    sql script 1001 "daily rollup 1": verified; would turn off its schedule' in lines
    assert 'skipped  sql script 1002 "daily rollup 2": verify failed: reporting/rollup_2 (failed)' in lines
    assert "skipped  sql script 1003" in lines and "not verified: no civis_parity result for reporting/rollup_3" in lines
    assert "verify failed: reporting/rollup_5 (failed)" in lines
    assert "not verified: no civis_parity result for reporting/rollup_6" in lines
    assert 'skipped  sql script 1090 "unload to s3": needs attention: UNLOAD' in lines
    assert "dry run: nothing sent to Civis" in lines


def test_yes_unschedules_only_verified_objects(fake_civis, warehouse, tmp_path):
    write_report(tmp_path)
    record_parity(warehouse)
    result = archive_objects(None, tmp_path, yes=True, warehouse=warehouse, session=connect(fake_civis.env()))

    assert result.ok, result.lines()
    writes = _writes(fake_civis)
    # the container's schedule was already off: nothing to send for it
    assert {_kind_id(r.path) for r in writes} == ELIGIBLE - {("containers", 3001)}
    assert all(not r.path.endswith("/archive") for r in writes)
    for r in writes:
        assert r.body["schedule"]["scheduled"] is False
    # only the schedule flag changed: the fire times stay, so it can be switched back on as it was
    sql = fake_civis.get("sql", 1001)["schedule"]
    assert sql["scheduled"] is False and sql["scheduledHours"] == [6] and sql["scheduledDays"] == [1, 2, 3, 4, 5]
    assert fake_civis.get("workflows", 4001)["schedule"]["scheduled"] is False
    assert fake_civis.get("imports", 5001)["schedule"]["scheduled"] is False  # imports: PUT with the required fields
    put = [r for r in writes if r.path == "/imports/5001"][0]
    assert put.method == "PUT" and put.body["sync_type"] == "Dbsync" and put.body["is_outbound"] is False
    assert put.body["schedule"]["scheduled_hours"] == [6]  # sent as civis-python names it
    for unverified in (1002, 1003, 1005, 1006, 1090):
        assert fake_civis.get("sql", unverified)["schedule"]["scheduled"] is True
        assert not fake_civis.calls(None, f"/scripts/sql/{unverified}")  # never even read
    lines = "\n".join(result.lines())
    assert 'done     sql script 1001 "daily rollup 1": schedule turned off' in lines
    # running it again (say after a crash halfway) sends nothing more: every schedule is off
    fake_civis.clear_log()
    again = archive_objects(None, tmp_path, yes=True, warehouse=warehouse, session=connect(fake_civis.env()))
    assert _writes(fake_civis) == [] and again.count("done") == len(ELIGIBLE)
    assert all("already off" in o.detail for o in again.outcomes if o.status == "done")
    assert 'done     container script 3001 "dbt-like container": schedule was already off' in lines
    assert "5 skipped" in lines


def test_archive_flag_archives_them_too(fake_civis, warehouse, tmp_path):
    write_report(tmp_path)
    record_parity(warehouse)
    archive_objects(None, tmp_path, yes=True, archive=True, warehouse=warehouse, session=connect(fake_civis.env()))

    archived = {_kind_id(r.path) for r in fake_civis.calls("PUT") if r.path.endswith("/archive")}
    assert archived == ELIGIBLE
    assert all(r.body == {"status": True} for r in fake_civis.calls("PUT") if r.path.endswith("/archive"))
    assert fake_civis.get("sql", 1001)["archived"] == "true"
    assert fake_civis.get("sql", 1002)["archived"] == "false"


def test_selection_narrows_to_objects_with_a_selected_key(fake_civis, warehouse, tmp_path):
    write_report(tmp_path)
    record_parity(warehouse)
    result = archive_objects(
        "reporting/rollup_1", tmp_path, yes=True, warehouse=warehouse, session=connect(fake_civis.env())
    )
    assert {(o.obj.type, o.obj.id) for o in result.outcomes} == {("sql", 1001), ("workflow", 4001)}
    assert {_kind_id(r.path) for r in _writes(fake_civis)} == {("sql", 1001), ("workflows", 4001)}


def test_a_civis_failure_on_one_object_is_reported_and_the_rest_go_on(fake_civis, warehouse, tmp_path):
    write_report(tmp_path)
    record_parity(warehouse)
    fake_civis.inject(500, times=1, path_prefix="/scripts/python3/2001")
    result = archive_objects(None, tmp_path, yes=True, warehouse=warehouse, session=connect(fake_civis.env()))

    assert not result.ok
    failed = [o for o in result.outcomes if o.status == "failed"]
    assert [(o.obj.type, o.obj.id) for o in failed] == [("python3", 2001)]
    assert "GET /scripts/python3/2001 failed (500)" in failed[0].detail
    assert fake_civis.get("sql", 1001)["schedule"]["scheduled"] is False


def test_without_a_catalog_nothing_is_verified(fake_civis, warehouse, tmp_path):
    write_report(tmp_path)
    result = archive_objects(None, tmp_path, yes=True, warehouse=warehouse)
    assert result.count("skipped") == len(result.outcomes) and fake_civis.requests == ()


def test_missing_or_malformed_report_is_one_clear_error(warehouse, tmp_path):
    with pytest.raises(CivisArchiveError, match="no migration report: run `assetgraph civis import DIR` first"):
        archive_objects(None, tmp_path, warehouse=warehouse)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/civis-migration.json").write_text('{"objects": [{"type": "sql", "id": "12"}]}')
    with pytest.raises(CivisArchiveError, match=r"objects\[0\]: id '12' is not an integer"):
        archive_objects(None, tmp_path, warehouse=warehouse)
    (tmp_path / "reports/civis-migration.json").write_text("{not json")
    with pytest.raises(CivisArchiveError, match="is not valid JSON"):
        read_report(tmp_path / "reports/civis-migration.json")


def test_decide_is_pure_and_strict():
    obj = MigratedObject.from_json(
        {"type": "workflow", "id": 1, "name": "w", "keys": ["a/x", "a/y"], "needs_attention": []}, "t"
    )
    assert decide([obj], {"a/x": "passed", "a/y": "passed"})[0].eligible
    assert not decide([obj], {"a/x": "passed"})[0].eligible  # every key, not some
    assert not decide([obj], {"a/x": "passed", "a/y": "overridden"})[0].eligible  # only a real pass
    assert not decide([obj], {"a/x": "passed", "a/y": "error"})[0].eligible
    with_attention = MigratedObject.from_json(
        {"type": "sql", "id": 2, "name": "", "keys": ["a/x"], "needs_attention": ["COPY", "UNLOAD"]}, "t"
    )
    decision = decide([with_attention], {"a/x": "passed"})[0]
    assert not decision.eligible and decision.reason == "needs attention: COPY (+1 more)"
    assert json.dumps(obj.label) == '"workflow 1 \\"w\\""'


def test_select_keys_is_the_asset_selection_syntax_over_the_migrated_keys():
    from assetgraph.errors import UnknownAssetError
    from assetgraph.ext.civis.contract import select_keys

    keys = ["analytics/people", "analytics/donor_totals", "civis/hello", "analytics/people"]
    assert select_keys(keys, None) == select_keys(keys, "  ") == ["analytics/donor_totals", "analytics/people", "civis/hello"]
    assert select_keys(keys, "analytics/donor_* +civis/hello") == ["analytics/donor_totals", "civis/hello"]
    assert select_keys(keys, "group:analytics") == ["analytics/donor_totals", "analytics/people"]
    with pytest.raises(UnknownAssetError) as info:
        select_keys(keys, "analytics/people marts/nothing")
    assert info.value.term == "marts/nothing"
