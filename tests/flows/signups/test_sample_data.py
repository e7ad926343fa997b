"""The sample export generator: deterministic, messy in the promised ways, honest about counts."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import re
from pathlib import Path

import pytest

from flows.signups.sample_data import COLUMNS, SampleConfig, generate, main


def digest(paths) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def read_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


@pytest.mark.parametrize("gz", [False, True])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, gz):
    a = generate(tmp_path / "a", SampleConfig(rows=600, days=3, seed=11, gzip=gz))
    b = generate(tmp_path / "b", SampleConfig(rows=600, days=3, seed=11, gzip=gz))
    c = generate(tmp_path / "c", SampleConfig(rows=600, days=3, seed=12, gzip=gz))
    assert digest(f.path for f in a) == digest(f.path for f in b)
    assert set(digest(f.path for f in a).values()).isdisjoint(digest(f.path for f in c).values())
    assert [f.landable_by_day for f in a] == [f.landable_by_day for f in b]


def test_one_file_per_day_with_the_promised_mess(tmp_path):
    files = generate(tmp_path, SampleConfig(rows=3000, days=3, seed=5, start=dt.date(2026, 11, 1)))
    assert [f.path.name for f in files] == [
        "signups_2026-11-01.csv", "signups_2026-11-02.csv", "signups_2026-11-03.csv",
    ]
    data = [r for f in files for r in read_rows(f.path)[1:]]
    assert read_rows(files[0].path)[0] == list(COLUMNS)
    assert files[0].path.read_bytes().count(b"\r\n") > 900  # CRLF, as spreadsheets write
    assert sum(f.rows for f in files) == len(data) > 3000  # duplicates come on top of the base rows
    ids = [r[0] for r in data]
    assert len(set(ids)) < len(ids)  # the same submission repeated
    emails = [r[5] for r in data if r[5]]
    assert any(e != e.strip() for e in emails) and any(e != e.lower() for e in emails)
    assert all(e.strip().lower().split("@")[1].endswith(("example.org", "example.com", "example.net")) for e in emails)
    phone_shapes = {re.sub(r"\d", "9", r[6]) for r in data if r[6]}
    assert len(phone_shapes) >= 5
    stamps = [r[2] for r in data]
    assert any(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", s) for s in stamps)
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)", s) for s in stamps)
    vans = [r[8] for r in data]
    assert "" in vans and any(v.isdigit() for v in vans)
    assert len({r[1] for r in data}) == 5 and len({r[9] for r in data}) >= 6
    assert any("," in r[4] for r in data)  # a quoted field


def test_counts_match_what_a_loader_must_do(tmp_path):
    files = generate(tmp_path, SampleConfig(rows=2000, days=2, seed=3, bad_fraction=0.04))
    for f in files:
        rows = read_rows(f.path)[1:]
        assert f.rows == len(rows)
        bad_shape = sum(len(r) != len(COLUMNS) for r in rows)
        assert bad_shape == f.bad_by_kind.get("extra_field", 0) + f.bad_by_kind.get("missing_field", 0) > 0
        assert f.quarantinable + f.landable == f.rows
        assert {"timestamp", "van_id"} <= set(f.bad_by_kind)
    # export windows overlap: the second file starts with rows of the first day
    assert set(files[1].landable_by_day) == {"2026-11-01", "2026-11-02"}


def test_k_files_and_gzip_from_the_command_line(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--rows", "500", "--days", "4", "--seed", "2", "--gzip", "--files", "2"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["signups_2026-11-01_part001.csv.gz", "signups_2026-11-03_part002.csv.gz"]
    assert read_rows(tmp_path / names[0])[0] == list(COLUMNS)
    assert "wrote 2 files" in capsys.readouterr().out


def test_rejects_nonsense():
    with pytest.raises(ValueError):
        SampleConfig(rows=10, days=0)
    with pytest.raises(ValueError):
        SampleConfig(bad_fraction=2.0)
