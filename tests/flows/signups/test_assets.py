"""The raw/signups asset: nightly landing, daily partitions and backfills, the dbt contract,
and the plain Prefect flow."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assetgraph.definitions import AssetContext
from assetgraph.keys import AssetKey
from flows.landing.errors import ConfigurationError, SourceFileMissingError
from flows.signups.sample_data import SampleConfig, generate
from flows.signups.assets import run_flow, signups, signups_spec
from tests.flows.signup_helpers import row, rows, scalar, table_fingerprint, write_csv

REPO = Path(__file__).resolve().parents[3]

CONTRACT = [
    ("submission_id", "text"), ("form_id", "text"), ("submitted_at", "timestamp with time zone"),
    ("first_name", "text"), ("last_name", "text"), ("email", "text"), ("phone", "text"), ("zip", "text"),
    ("van_id", "bigint"), ("utm_source", "text"), ("utm_medium", "text"), ("utm_campaign", "text"),
    ("_loaded_at", "timestamp with time zone"), ("_source_file", "text"), ("_source_line", "integer"),
    ("_load_id", "text"), ("_partition", "date"),
]


def run(wh, partition: str | None = None):
    return signups(AssetContext(key=signups.key, run_id="test-run", warehouse=wh, partition=partition))


@pytest.fixture
def exports(tmp_path, monkeypatch):
    """Three days of generated exports in SIGNUPS_DIR (with overlap and a few bad VAN IDs)."""
    folder = tmp_path / "signups"
    files = generate(folder, SampleConfig(rows=900, days=3, seed=21, messy_van_id_fraction=0.003))
    monkeypatch.setenv("SIGNUPS_DIR", str(folder))
    monkeypatch.delenv("SIGNUPS_TIMEZONE", raising=False)
    expected: dict[str, int] = {}
    for f in files:
        for day, n in f.landable_by_day.items():
            expected[day] = expected.get(day, 0) + n
    return folder, files, expected


def by_partition(wh) -> dict[str, int]:
    return dict(rows(wh, "select _partition::text, count(*) from raw.signups group by 1 order by 1"))


def test_the_asset_is_declared_as_promised():
    spec = signups.spec
    assert spec.key == AssetKey(("raw", "signups")) and spec.group == "raw" and spec.kind.value == "python"
    assert spec.tags == frozenset({"nightly"}) and spec.retries == 1
    assert spec.partitions.start == "2026-01-01" and spec.freshness.max_lag_hours == 26


def test_nightly_lands_new_files_once_with_the_exact_contract(warehouse, exports):
    folder, files, expected = exports
    first = run(warehouse)
    assert first.row_count == sum(expected.values()) == scalar(warehouse, "select count(*) from raw.signups")
    assert first.metadata["files_loaded"] == 3 and first.metadata["rows_quarantined"] == sum(f.quarantinable for f in files)
    assert by_partition(warehouse) == expected
    assert rows(warehouse, """select column_name, data_type from information_schema.columns
                              where table_schema = 'raw' and table_name = 'signups' order by ordinal_position""") == CONTRACT
    # duplicates are landed; dbt dedupes on submission_id
    assert scalar(warehouse, "select count(*) - count(distinct submission_id) from raw.signups") > 0

    again = run(warehouse)
    assert again.row_count == 0 and again.metadata["files_skipped"] == 3
    assert scalar(warehouse, "select count(*) from raw.signups") == first.row_count


def test_backfill_of_three_days_creates_three_partitions(warehouse, exports):
    folder, files, expected = exports
    days = ["2026-11-01", "2026-11-02", "2026-11-03"]
    results = [run(warehouse, day) for day in days]
    assert [r.row_count for r in results] == [expected[d] for d in days]
    assert by_partition(warehouse) == expected
    # the export overlap: day 1 rows also come from the day-2 file
    assert rows(warehouse, "select count(distinct _source_file) from raw.signups where _partition = '2026-11-01'") == [(2,)]

    loads = dict(rows(warehouse, "select _partition::text, min(_load_id) from raw.signups group by 1"))
    again = run(warehouse, "2026-11-02")  # idempotent, and the other days are not touched
    assert again.row_count == expected["2026-11-02"] and again.metadata["rows_replaced"] == expected["2026-11-02"]
    after = dict(rows(warehouse, "select _partition::text, min(_load_id) from raw.signups group by 1"))
    assert after["2026-11-01"] == loads["2026-11-01"] and after["2026-11-03"] == loads["2026-11-03"]
    assert after["2026-11-02"] != loads["2026-11-02"]
    assert by_partition(warehouse) == expected

    nightly = run(warehouse)  # files landed partly by the backfill are landed whole, once
    assert nightly.metadata["files_loaded"] == 3
    assert by_partition(warehouse) == expected


def test_a_partition_reads_only_the_files_that_can_hold_it(warehouse, exports):
    folder, files, expected = exports
    run(warehouse)
    result = run(warehouse, "2026-11-03")
    read = {f["file"] for f in result.metadata["files"]}
    assert read == {"signups_2026-11-03.csv"}  # the ledger's date ranges rule the others out
    assert by_partition(warehouse) == expected


def test_a_partition_is_not_rebuilt_when_its_source_file_is_gone(warehouse, exports):
    folder, files, expected = exports
    run(warehouse)
    before = table_fingerprint(warehouse)
    (folder / "signups_2026-11-01.csv").unlink()
    with pytest.raises(SourceFileMissingError, match="2026-11-01.*signups_2026-11-01.csv.*nothing was changed"):
        run(warehouse, "2026-11-01")
    assert table_fingerprint(warehouse) == before


def test_time_zone_setting_moves_dates(warehouse, tmp_path, monkeypatch):
    folder = tmp_path / "tz"
    write_csv(folder / "a.csv", [row(1, ts="2026-11-02T03:00:00Z"), row(2, ts="11/02/2026 03:00")])
    monkeypatch.setenv("SIGNUPS_DIR", str(folder))
    monkeypatch.setenv("SIGNUPS_TIMEZONE", "America/Los_Angeles")
    run(warehouse)
    assert rows(warehouse, "select submission_id, _partition::text, submitted_at from raw.signups order by 1") == [
        ("s_000001", "2026-11-01", dt.datetime(2026, 11, 2, 3, tzinfo=dt.timezone.utc)),
        ("s_000002", "2026-11-02", dt.datetime(2026, 11, 2, 11, tzinfo=dt.timezone.utc)),  # 03:00 PST
    ]
    monkeypatch.setenv("SIGNUPS_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigurationError, match="SIGNUPS_TIMEZONE='Mars/Olympus'"):
        run(warehouse)


def test_sources_default_dir(warehouse, tmp_path, monkeypatch):
    monkeypatch.delenv("SIGNUPS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "data" / "signups" / "a.csv", [row(1)])
    assert run(warehouse).row_count == 1


def test_importing_the_asset_module_stays_light():
    code = ("import sys, flows.signups.assets; heavy = {'prefect', 'psycopg2', 'pandas', 'flows.landing.engine'} & set(sys.modules);"
            "print(sorted(heavy)); sys.exit(1 if heavy else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_plain_prefect_flow(warehouse_env, exports, prefect_api, capsys):
    folder, files, expected = exports
    assert run_flow(["--dir", str(folder)]) == 0
    assert "rows landed from 3 files" in capsys.readouterr().out
    assert by_partition(warehouse_env) == expected
    assert run_flow(["--dir", str(folder), "--partition", "2026-11-02"]) == 0
    assert by_partition(warehouse_env) == expected
    write_csv(folder / "broken.csv", [row(1)[:3]], header=["submission_id", "form_id", "submitted_at"])
    assert run_flow(["--dir", str(folder)]) == 1
    assert "broken.csv: missing required columns" in capsys.readouterr().err
    assert signups_spec().qualified_name == "raw.signups"
