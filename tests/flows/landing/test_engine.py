"""Landing into a real Postgres: good rows land, bad rows are quarantined, loads are idempotent
and atomic (also when the process is killed with SIGKILL in the middle)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.landing.errors import (
    ConfigurationError,
    EmptyFileError,
    MissingColumnError,
    QuarantineThresholdError,
    SchemaMismatchError,
    UnsupportedWarehouseError,
)
from flows.landing.file_sources import LocalDirectorySource
from flows.landing.engine import LandingOptions, land_new_files, replace_partition
from flows.signups.sample_data import SampleConfig, generate
from flows.signups.assets import signups_spec
from tests.flows.signup_helpers import HEADER, row, rows, scalar, table_fingerprint, write_csv, write_text

SPEC = signups_spec({})
REPO = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("landing_child.py")


def land(wh, folder: Path, **opts):
    return land_new_files(wh, SPEC, LocalDirectorySource(folder), LandingOptions(**opts))


def test_good_rows_land_typed_and_bad_rows_are_quarantined_with_reasons(warehouse, tmp_path):
    data = [row(i, van=str(1000 + i) if i % 2 else "") for i in range(1, 201)]
    data.insert(50, row(900, ts="31/12/2026 10:00"))  # line 52
    data.insert(120, row(901)[:-1])  # line 122
    data[10][2] = "11/01/2026 2:03 PM"
    result = land(warehouse, write_csv(tmp_path / "in" / "signups_2026-11-01.csv", data).parent)

    (load,) = result.files
    assert (load.status, load.rows_landed, load.rows_quarantined) == ("loaded", 200, 2)
    assert scalar(warehouse, "select count(*) from raw.signups") == 200
    got = rows(warehouse, """select submission_id, van_id, submitted_at, _partition, _source_file, _source_line,
                                    _load_id, _loaded_at is not null from raw.signups where submission_id in ('s_000001', 's_000002', 's_000011')
                             order by 1""")
    utc = dt.timezone.utc
    assert got == [
        ("s_000001", 1001, dt.datetime(2026, 11, 1, 10, 1, tzinfo=utc), dt.date(2026, 11, 1), "signups_2026-11-01.csv", 2, load.load_id, True),
        ("s_000002", None, dt.datetime(2026, 11, 1, 10, 2, tzinfo=utc), dt.date(2026, 11, 1), "signups_2026-11-01.csv", 3, load.load_id, True),
        ("s_000011", 1011, dt.datetime(2026, 11, 1, 14, 3, tzinfo=utc), dt.date(2026, 11, 1), "signups_2026-11-01.csv", 12, load.load_id, True),
    ]
    assert rows(warehouse, "select table_name, source_file, source_line, reason, load_id from raw._quarantine order by source_line") == [
        ("raw.signups", "signups_2026-11-01.csv", 52, "submitted_at: '31/12/2026 10:00' is not a timestamp", load.load_id),
        ("raw.signups", "signups_2026-11-01.csv", 122, "expected 12 fields, found 11", load.load_id),
    ]
    assert rows(warehouse, "select source_file, rows_read, rows_landed, rows_quarantined, partition_key from raw._loaded_files") == [
        ("signups_2026-11-01.csv", 202, 200, 2, None)
    ]


def test_the_same_file_lands_once_a_copy_is_skipped_a_new_version_replaces(warehouse, tmp_path):
    folder = tmp_path / "in"
    a = write_csv(folder / "a.csv", [row(i) for i in range(10)])
    assert land(warehouse, folder).rows_landed == 10
    again = land(warehouse, folder)
    assert [(f.status, f.detail) for f in again.files] == [("skipped", "already loaded")] and again.rows_landed == 0
    shutil.copy(a, folder / "a (1).csv")
    copy = land(warehouse, folder)
    assert {f.file: f.detail for f in copy.files}["a (1).csv"] == "same content as a.csv"
    assert scalar(warehouse, "select count(*) from raw.signups") == 10

    write_csv(a, [row(i) for i in range(5, 20)])  # re-exported with more rows
    (new,) = [f for f in land(warehouse, folder).files if f.status == "loaded"]
    assert new.file == "a.csv" and new.replaced_previous
    assert rows(warehouse, "select count(*), count(distinct submission_id), count(distinct _load_id) from raw.signups") == [(15, 15, 1)]


def test_missing_column_fails_naming_file_and_column_and_lands_the_other_files(warehouse, tmp_path):
    folder = tmp_path / "in"
    write_csv(folder / "a_good.csv", [row(1), row(2)])
    write_csv(folder / "b_noemail.csv", [row(3)[:5] + row(3)[6:]], header=[h for h in HEADER if h != "email"])
    with pytest.raises(MissingColumnError) as err:
        land(warehouse, folder)
    assert (err.value.file, err.value.column) == ("b_noemail.csv", "email")
    assert str(err.value).startswith("b_noemail.csv: missing required column 'email'")
    assert rows(warehouse, "select distinct _source_file from raw.signups") == [("a_good.csv",)]
    assert rows(warehouse, "select source_file from raw._loaded_files") == [("a_good.csv",)]


def test_empty_file_fails_clearly_and_changes_nothing(warehouse, tmp_path):
    folder = tmp_path / "in"
    land(warehouse, write_csv(folder / "a.csv", [row(1)]).parent)
    before = table_fingerprint(warehouse)
    write_text(folder / "b.csv", b"")
    with pytest.raises(EmptyFileError, match=r"^b\.csv: is empty \(0 bytes\)$"):
        land(warehouse, folder)
    write_text(folder / "b.csv", ",".join(HEADER) + "\r\n")
    with pytest.raises(EmptyFileError, match=r"^b\.csv: has a header but no data rows$"):
        land(warehouse, folder)
    assert table_fingerprint(warehouse) == before
    assert scalar(warehouse, "select count(*) from raw._loaded_files") == 1


def test_too_many_bad_rows_fail_the_file_and_leave_raw_untouched(warehouse, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    land(warehouse, write_csv(folder / "a.csv", [row(i) for i in range(50)]).parent)
    before = table_fingerprint(warehouse)
    bad = [row(100 + i) for i in range(95)] + [row(200 + i, van="abc") for i in range(5)]
    write_csv(folder / "b.csv", bad)

    with pytest.raises(QuarantineThresholdError) as err:
        land(warehouse, folder)
    e = err.value
    assert (e.file, e.bad, e.total, e.limit) == ("b.csv", 5, 100, 0.01)
    assert "5 of 100 rows (5.00%)" in str(e) and "nothing was landed" in str(e)
    assert table_fingerprint(warehouse) == before
    assert rows(warehouse, "select source_file from raw._loaded_files") == [("a.csv",)]
    # the bad rows are kept for diagnosis, under the failed load's id
    assert rows(warehouse, "select count(*), min(load_id) from raw._quarantine where source_file = 'b.csv'") == [(5, e.load_id)]

    monkeypatch.setenv("LANDING_MAX_QUARANTINE_FRACTION", "0.05")
    result = land_new_files(warehouse, SPEC, LocalDirectorySource(folder), LandingOptions.from_env())
    assert [(f.file, f.status, f.rows_landed) for f in result.files] == [("a.csv", "skipped", 0), ("b.csv", "loaded", 95)]
    assert scalar(warehouse, "select count(*) from raw._quarantine where source_file = 'b.csv'") == 5


def test_staging_strategy_lands_the_same_rows(warehouse, tmp_path):
    files = generate(tmp_path / "in", SampleConfig(rows=400, days=2, seed=4, messy_van_id_fraction=0))
    result = land(warehouse, tmp_path / "in", strategy="staging")
    assert result.rows_landed == sum(f.landable for f in files) == scalar(warehouse, "select count(*) from raw.signups")
    by_day = dict(rows(warehouse, "select _partition::text, count(*) from raw.signups group by 1"))
    expected: dict[str, int] = {}
    for f in files:
        for day, n in f.landable_by_day.items():
            expected[day] = expected.get(day, 0) + n
    assert by_day == expected
    assert scalar(warehouse, "select count(*) from raw.signups where _loaded_at is null") == 0


def test_existing_table_with_other_types_is_refused(warehouse, tmp_path):
    from assetgraph.warehouse import connect

    with connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute("create schema raw")
        cur.execute("create table raw.signups (submission_id text, van_id text)")
    with pytest.raises(SchemaMismatchError) as err:
        land(warehouse, write_csv(tmp_path / "in" / "a.csv", [row(1)]).parent)
    assert err.value.wrong_type == {"van_id": "text"} and "email" in err.value.missing


def test_configuration_errors_are_clear(warehouse, tmp_path):
    with pytest.raises(ConfigurationError, match="LANDING_MAX_QUARANTINE_FRACTION='lots'"):
        LandingOptions.from_env({"LANDING_MAX_QUARANTINE_FRACTION": "lots"})
    with pytest.raises(ConfigurationError, match="LANDING_STRATEGY='fast'"):
        LandingOptions.from_env({"LANDING_STRATEGY": "fast"})
    redshift = dataclasses.replace(warehouse, kind="redshift")
    with pytest.raises(UnsupportedWarehouseError, match="redshift.*S3"):
        land(redshift, write_csv(tmp_path / "in" / "a.csv", [row(1)]).parent)


# -- SIGKILL in the middle of a load -----------------------------------------------------------


def _child(wh, folder: Path, at: str, strategy: str = "direct", partition: str | None = None) -> subprocess.Popen:
    cfg = {"warehouse": dataclasses.asdict(wh), "dir": str(folder), "at": at, "strategy": strategy, "partition": partition}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(CHILD), json.dumps(cfg)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    line = proc.stdout.readline().strip() if ready else ""
    if line != "PAUSED":
        proc.kill()
        raise AssertionError(f"child did not pause: {line!r} {proc.stderr.read()[-2000:]}")
    return proc


def _wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _kill_and_wait(wh, proc: subprocess.Popen, backend_pid: int) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    _wait_for(lambda: not scalar(wh, "select count(*) from pg_stat_activity where pid = %s", backend_pid),
              "the killed client's Postgres backend to end")


@pytest.fixture
def landed_day_one(warehouse, tmp_path):
    """raw.signups with one small file landed, and a large second file waiting in the folder."""
    folder = tmp_path / "in"
    write_csv(folder / "signups_2026-10-31.csv", [row(i, ts="2026-10-31T12:00:00Z", van=str(i + 1)) for i in range(1, 301)])
    land(warehouse, folder)
    (big,) = generate(tmp_path / "gen", SampleConfig(rows=30_000, days=1, files=1, seed=9, messy_van_id_fraction=0))
    shutil.move(big.path, folder / "signups_2026-11-01.csv")
    return folder, big.rows


@pytest.mark.parametrize("strategy", ["direct", "staging"])
def test_killed_mid_copy_leaves_the_previous_table_intact(warehouse, landed_day_one, strategy):
    folder, big_rows = landed_day_one
    before = table_fingerprint(warehouse)
    proc = _child(warehouse, folder, "copy", strategy)
    # the child sits between two chunks: Postgres has already taken rows of this COPY
    pid, done = _wait_for(lambda: rows(warehouse, "select pid, tuples_processed from pg_stat_progress_copy "
                                                  "where datname = current_database() and tuples_processed > 0"),
                          "the COPY to make progress")[0]
    assert 0 < done < big_rows
    _kill_and_wait(warehouse, proc, pid)

    assert table_fingerprint(warehouse) == before == (300, before[1])
    assert rows(warehouse, "select source_file from raw._loaded_files") == [("signups_2026-10-31.csv",)]
    assert scalar(warehouse, "select count(*) from pg_class where relname like '_stage_%'") == 0
    # and the next run lands the whole file
    assert land(warehouse, folder).rows_landed == big_rows
    assert scalar(warehouse, "select count(*) from raw.signups") == 300 + big_rows


def test_killed_before_commit_leaves_the_previous_table_intact(warehouse, landed_day_one):
    folder, big_rows = landed_day_one
    before = table_fingerprint(warehouse)
    proc = _child(warehouse, folder, "commit")
    (pid,), = rows(warehouse, "select pid from pg_stat_activity where datname = current_database() "
                              "and state = 'idle in transaction'")
    _kill_and_wait(warehouse, proc, pid)
    assert table_fingerprint(warehouse) == before
    assert scalar(warehouse, "select count(*) from raw._loaded_files") == 1


def test_killed_partition_replacement_leaves_the_partition_intact(warehouse, landed_day_one):
    folder, big_rows = landed_day_one
    assert land(warehouse, folder).rows_landed == big_rows
    before = table_fingerprint(warehouse)
    proc = _child(warehouse, folder, "commit", partition="2026-11-01")  # deleted and re-copied, not committed
    (pid,), = rows(warehouse, "select pid from pg_stat_activity where datname = current_database() "
                              "and state = 'idle in transaction'")
    _kill_and_wait(warehouse, proc, pid)
    assert table_fingerprint(warehouse) == before
    result = replace_partition(warehouse, SPEC, LocalDirectorySource(folder), "2026-11-01")
    assert result.rows_deleted == result.rows_landed == big_rows


def test_two_concurrent_runs_land_each_file_once(warehouse, tmp_path):
    import threading

    files = generate(tmp_path / "in", SampleConfig(rows=3000, days=3, seed=8, messy_van_id_fraction=0))
    results, errors = [], []

    def nightly() -> None:
        try:
            results.append(land(warehouse, tmp_path / "in"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=nightly) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert sum(r.rows_landed for r in results) == sum(f.landable for f in files)
    assert scalar(warehouse, "select count(*) from raw.signups") == sum(f.landable for f in files)
    assert scalar(warehouse, "select count(*) from raw._loaded_files") == 3


def test_every_value_lands_as_exported(warehouse, tmp_path):
    """Text columns byte for byte (spaces, case, quotes, commas, tabs, backslashes, accents),
    blanks as NULL, VAN IDs as integers, each row at its line, a comma in the file name: checked
    against the csv module's reading of the files (COPY's delimiter is the comma, escaped)."""
    import csv as csv_module

    files = generate(tmp_path / "in", SampleConfig(rows=1500, days=2, seed=13, messy_van_id_fraction=0))
    extra = [row(1, email=" Ünïcode.Person@Example.org "), row(2), row(3), row(4)]
    extra[1][4] = 'She said "hi", then\nleft'
    extra[2][3] = "tab\there"  # a tab is data, passed through as it is
    extra[3][3], extra[3][4], extra[3][11] = "\\,\\n", ",,", "back\\slash\\"
    write_csv(tmp_path / "in" / "signups_zz, extra.csv", extra, newline="\n")
    land(warehouse, tmp_path / "in")

    expected = {}
    for path in sorted((tmp_path / "in").iterdir()):
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv_module.reader(fh)
            next(reader)
            start = reader.line_num + 1
            for rec in reader:
                values = tuple(None if v == "" else v for v in rec)
                van = values[8]
                expected[(path.name, start)] = values[:2] + values[3:8] + (int(van) if van else None,) + values[9:]
                start = reader.line_num + 1
    got = {
        (r[0], r[1]): r[2:]
        for r in rows(warehouse, """select _source_file, _source_line, submission_id, form_id, first_name, last_name,
                                           email, phone, zip, van_id, utm_source, utm_medium, utm_campaign
                                    from raw.signups""")
    }
    assert len(got) == sum(f.landable for f in files) + 4
    assert got == expected


def test_scoped_reads_skip_earlier_loads_and_are_planned_for_tonight(warehouse, tmp_path):
    """Scoped checks (`where _load_id in (...)`) read only the pages of tonight's loads, planned
    for the rows those loads hold: before a load the BRIN index on the load columns gets the
    earlier loads' pages summarized, after it the load columns' statistics know the new load
    id. A table created before the index existed gets it on its next load."""
    from assetgraph.warehouse import connect

    folder = tmp_path / "in"
    generate(folder, SampleConfig(rows=20_000, days=1, seed=5, start=dt.date(2026, 11, 1)))
    land(warehouse, folder)
    generate(folder, SampleConfig(rows=20_000, days=1, seed=6, start=dt.date(2026, 11, 2)))
    (day2,) = [f for f in land(warehouse, folder).files if f.status == "loaded"]

    mcv = rows(warehouse, "select most_common_vals::text from pg_stats "
                          "where schemaname = 'raw' and tablename = 'signups' and attname = '_load_id'")
    assert mcv and day2.load_id in mcv[0][0], "the statistics do not know tonight's load"
    assert scalar(warehouse, "select attstattarget from pg_attribute "
                             "where attrelid = 'raw.signups'::regclass and attname = '_load_id'") == 10
    with connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute("set enable_seqscan = off")
        cur.execute("explain (analyze, format json) select count(*) from raw.signups where _load_id = %s",
                    (day2.load_id,))
        plan = json.dumps(cur.fetchone()[0])
        cur.execute("select pg_relation_size('raw.signups') / current_setting('block_size')::int")
        pages = cur.fetchone()[0]
    assert "signups__load_brin" in plan
    read = sum(int(n) for n in re.findall(r'"(?:Exact|Lossy) Heap Blocks": (\d+)', plan))
    assert 0 < read < 0.75 * pages, (read, pages, plan)

    with connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute("drop index raw.signups__load_brin")  # as an older version created the table
    assert [f.status for f in land(warehouse, folder).files] == ["skipped", "skipped"]
    assert scalar(warehouse, "select to_regclass('raw.signups__load_brin') is not null") is True
