"""CopyStream and TimestampParser: CSV in, COPY data out, bad rows quarantined with reasons.

The COPY output is read back as Postgres reads COPY text format (comma-separated here, backslash
escapes, an empty field is NULL), so each test checks the values Postgres would store. The last test runs the timestamps
through a real Postgres."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from pathlib import Path

import pytest

from flows.landing.copy_stream import CopyStream
from flows.landing.errors import CorruptFileError, DuplicateColumnError, EmptyFileError, MissingColumnError
from flows.signups.assets import signups_spec
from flows.landing.timestamps import TimestampParser
from tests.flows.signup_helpers import HEADER, row, write_csv, write_text

SPEC = signups_spec({})


def stream(path: Path, **kw) -> CopyStream:
    return CopyStream(open(path, "rb"), SPEC, path.name, load_id="L1", **kw)


def drain(s: CopyStream, block_bytes: int | None = None) -> list[dict[str, str]]:
    if block_bytes:
        s.block_bytes = block_bytes
    data = b""
    while chunk := s.read():
        data += chunk
    assert s.copy_options == "format text, delimiter ',', null ''"
    out = []
    for line in data.decode("utf-8").split("\n")[:-1]:
        rec = _text_fields(line)
        assert len(rec) == len(s.copy_columns)
        out.append(dict(zip(s.copy_columns, rec)))
    return out


_ESCAPED = {"n": "\n", "r": "\r", "t": "\t"}  # any other escaped character stands for itself


def _text_fields(line: str) -> list[str]:
    """One line of COPY text format with delimiter ',', as Postgres splits and unescapes it."""
    fields, field, chars = [], [], iter(line)
    for c in chars:
        if c == "\\":
            e = next(chars)
            field.append(_ESCAPED.get(e, e))
        elif c == ",":
            fields.append("".join(field))
            field = []
        else:
            field.append(c)
    fields.append("".join(field))
    return fields


def test_clean_rows_pass_through_with_line_numbers_and_partitions(tmp_path):
    p = write_csv(tmp_path / "a.csv", [row(1), row(2, ts="11/02/2026 09:05", van="123"), row(3, ts="2026-11-02T23:30:00-05:00")])
    s = stream(p)
    got = drain(s)
    assert [r["_source_line"] for r in got] == ["2", "3", "4"]
    assert [r["_partition"] for r in got] == ["2026-11-01", "2026-11-02", "2026-11-03"]  # UTC dates
    assert got[1]["van_id"] == "123" and got[0]["van_id"] == ""  # blank -> NULL (null '')
    assert got[0]["_source_file"] == "a.csv" and got[0]["_load_id"] == "L1"
    assert "_loaded_at" not in s.copy_columns  # left to the table default
    assert s.stats.rows_read == s.stats.rows_good == 3 and s.stats.bad_rows == 0
    assert s.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


def test_bad_rows_are_quarantined_with_reasons_and_no_personal_data(tmp_path):
    data = [
        row(1),
        row(2)[:11],  # a field short
        row(3) + ["x"],  # a field too many
        row(4, ts="not a date"),
        row(5, ts="2026-13-45T10:00:00Z"),
        row(6, van="VAN-12"),
        row(7, van="555-123-4567"),  # a phone in the VAN column: not shown
        row(8, ts=""),
        row(9),
    ]
    s = stream(write_csv(tmp_path / "b.csv", data))
    got = drain(s)
    assert [r["submission_id"] for r in got] == ["s_000001", "s_000009"]
    reasons = {q.line: q.reason for q in s.stats.quarantined}
    assert reasons == {
        3: "expected 12 fields, found 11",
        4: "expected 12 fields, found 13",
        5: "submitted_at: 'not a date' is not a timestamp",
        6: "submitted_at: '2026-13-45T10:00:00Z' is not a timestamp",
        7: "van_id: 'VAN-12' is not an integer",
        8: "van_id: a value that looks like contact data (not shown) is not an integer",
        9: "submitted_at is blank",
    }
    assert s.stats.bad_rows == 7 and s.stats.rows_read == 9
    assert not any("@" in r for r in reasons.values())


def test_quoted_fields_spaces_and_odd_line_ends(tmp_path):
    tricky = [
        row(1, email=" Ana.Rivera@Example.org  "),
        ["s_2", "f", "2026-11-01T10:00:00Z", "Ana", "Smith, Jr.", 'say "hi"', "p", "z", " 42 ", "", "", ""],
        ["s_3", "f", " 11/01/2026 10:00 ", "Ana", "line1\nline2", "e", "p", "z", "   ", "", "", ""],
    ]
    crlf = write_csv(tmp_path / "crlf.csv", tricky, newline="\r\n").read_bytes()
    for name, raw in [("crlf", crlf), ("lf", crlf.replace(b"\r\n", b"\n")), ("cr", crlf.replace(b"\r\n", b"\r"))]:
        s = stream(write_text(tmp_path / f"{name}.csv", raw))
        got = drain(s)
        assert [r["submission_id"] for r in got] == ["s_000001", "s_2", "s_3"], name
        assert got[0]["email"] == " Ana.Rivera@Example.org  "  # stored raw
        assert got[1]["last_name"] == "Smith, Jr." and got[1]["email"] == 'say "hi"'
        assert got[1]["van_id"] == "42" and got[2]["van_id"] == ""  # spaces trimmed, blank -> NULL
        assert got[2]["last_name"] == "line1\nline2" and got[2]["submitted_at"] == "11/01/2026 10:00"
        assert [r["_source_line"] for r in got] == ["2", "3", "4"]


def test_multi_line_record_split_across_blocks_and_unterminated_quote(tmp_path):
    data = [row(i) for i in range(1, 200)]
    data[100][4] = "many\n" * 30 + "lines"
    p = write_csv(tmp_path / "m.csv", data)
    got = drain(stream(p), block_bytes=4096)  # small blocks: the record straddles blocks
    assert len(got) == 199 and got[100]["last_name"].count("\n") == 30
    assert got[101]["_source_line"] == str(102 + 1 + 30)

    text = p.read_text().replace("Rivera", '"Rivera', 1)  # a quote that never closes
    s = stream(write_text(tmp_path / "u.csv", text))
    got = drain(s)
    assert [q.reason for q in s.stats.quarantined] == ["quoted field never closed"]
    assert s.stats.quarantined[0].line == 2 and len(got) >= 150  # later rows still land


def test_gzip_bom_blank_lines_nul_and_invalid_utf8(tmp_path):
    p = write_csv(tmp_path / "g.csv.gz", [row(1), row(2)], gz=True, bom=True)
    assert [r["submission_id"] for r in drain(stream(p))] == ["s_000001", "s_000002"]

    body = ",".join(HEADER) + "\n" + ",".join(row(1)) + "\n\n" + ",".join(row(2)).replace("Ana", "A\x00a") + "\n"
    raw = body.encode() + ",".join(row(3)).encode().replace(b"Ana", b"An\xff") + b"\n"  # not UTF-8
    s = stream(write_text(tmp_path / "n.csv", raw))
    got = drain(s)
    assert [r["submission_id"] for r in got] == ["s_000001"]
    assert {q.line: q.reason for q in s.stats.quarantined} == {4: "contains a NUL character", 5: "not valid utf-8"}


def test_cp1252_is_reencoded(tmp_path):
    text = ",".join(HEADER) + "\n" + ",".join(row(1)).replace("Rivera", "Muñoz") + "\n"
    p = write_text(tmp_path / "w.csv", text.encode("cp1252"))
    assert drain(stream(p, encoding="cp1252"))[0]["last_name"] == "Muñoz"


def test_header_problems_name_the_file_and_column(tmp_path):
    header = [h for h in HEADER if h != "email"]
    with pytest.raises(MissingColumnError) as err:
        stream(write_csv(tmp_path / "nomail.csv", [row(1)[:11]], header=header))
    assert err.value.file == "nomail.csv" and err.value.column == "email"
    assert "nomail.csv" in str(err.value) and "'email'" in str(err.value)

    with pytest.raises(DuplicateColumnError, match="dup.csv.*'zip'"):
        stream(write_csv(tmp_path / "dup.csv", [row(1) + ["1"]], header=[*HEADER, "ZIP "]))
    with pytest.raises(EmptyFileError, match="empty.csv: is empty"):
        stream(write_text(tmp_path / "empty.csv", b""))
    with pytest.raises(EmptyFileError, match="blank.csv: is empty"):
        stream(write_text(tmp_path / "blank.csv", "\n\n  \n"))
    with pytest.raises(EmptyFileError, match="header.csv: has a header but no data rows"):
        drain(stream(write_csv(tmp_path / "header.csv", [])))
    assert drain(stream(write_csv(tmp_path / "header2.csv", []), allow_header_only=True)) == []
    with pytest.raises(CorruptFileError, match="trunc.csv.gz: cannot be read"):
        raw = gzip.compress(("\n".join(",".join(r) for r in [HEADER] + [row(i) for i in range(3000)])).encode())
        drain(stream(write_text(tmp_path / "trunc.csv.gz", raw[: len(raw) // 2])))


def test_columns_in_any_order_extra_ignored_optional_missing(tmp_path):
    header = ["Extra", "VAN_ID", "email", "submitted_at", "submission_id", "form_id", "first_name",
              "last_name", "phone", "zip", "notes"]
    p = write_csv(tmp_path / "o.csv", [["x", "7", "a@example.org", "2026-11-01 10:00", "s1", "f", "A", "B", "p", "z", "n"]], header=header)
    s = stream(p)
    (got,) = drain(s)
    assert s.stats.ignored_columns == ("extra", "notes")
    assert "utm_source" not in s.copy_columns
    assert (got["van_id"], got["email"], got["submission_id"]) == ("7", "a@example.org", "s1")


def test_only_one_partition_is_emitted_but_all_rows_are_checked(tmp_path):
    data = [row(1), row(2, ts="2026-11-02T01:00:00Z"), row(3, ts="bad"), row(4, ts="11/02/2026 3:04 PM")]
    s = stream(write_csv(tmp_path / "p.csv", data), only_partition="2026-11-02")
    assert [r["submission_id"] for r in drain(s)] == ["s_000002", "s_000004"]
    assert s.stats.partitions == {"2026-11-01": 1, "2026-11-02": 2} and s.stats.bad_rows == 1


def test_timestamp_rules_and_zones():
    utc, ny = TimestampParser("UTC"), TimestampParser("America/New_York")
    assert utc.partition(b"2026-11-01T23:30:00-05:00") == b"2026-11-02"
    assert ny.partition(b"2026-11-01T23:30:00-05:00") == b"2026-11-01"
    assert ny.partition(b"2026-11-02T02:30:00Z") == b"2026-11-01"
    assert ny.partition(b"11/01/2026 23:59") == b"2026-11-01"  # naive: local date as written
    assert utc.partition(b"1/5/2026 12:05 AM") == b"2026-01-05"
    for bad in (b"2026-W44-1T10:00", b"2026-11-01x10:00", b"20261101T100000", b"2026-11-01",
                b"2026-11-01T10:00:00,5", b"13/01/2026 10:00", b"02/30/2026 10:00", b"1/5/2026 13:05 PM", b""):
        assert utc.partition(bad) == b"", bad


def test_one_date_is_one_object_whatever_format_found_it():
    # The landing loop counts rows per run of one date by identity: exports that mix the two
    # formats row by row must not start a new run at every row.
    utc = TimestampParser("UTC")
    dates = {id(utc.partition(s)) for s in (b"2026-11-01T10:00:00Z", b"11/01/2026 10:00", b"2026-11-01 03:00:00-05:00",
                                             b"11/1/2026 9:05 PM", b"2026-11-01T10:00:00Z")}
    assert len(dates) == 1


ACCEPTED = [
    "2026-11-01T23:30:00-05:00", "2026-11-01 23:30:00.123+05:30", "2026-11-01T00:15Z", "2026-11-01T10:00:00+0530",
    "2026-11-01T21:00:00+05", "2026-11-01T10:00:00", "2026-12-31 23:59:59", "11/01/2026 14:03", "1/5/2026 9:05",
    "12/31/2026 11:59 PM", "02/29/2028 00:00:59", "11/01/2026 12:30 am",
]


def test_postgres_reads_every_accepted_timestamp_to_the_same_date(warehouse):
    from assetgraph.warehouse import connect

    with connect(warehouse) as conn, conn.cursor() as cur:
        cur.execute("set datestyle to 'ISO, MDY'")
        for zone in ("UTC", "America/New_York", "Asia/Kolkata"):
            parser = TimestampParser(zone)
            expected = {s: parser.partition(s.encode()).decode() for s in ACCEPTED}
            assert all(expected.values())
            cur.execute("set time zone %s", (zone,))
            for s, date in expected.items():
                cur.execute("select (%s::timestamptz at time zone %s)::date::text", (s, zone))
                assert cur.fetchone()[0] == date, (zone, s)


def test_tabs_backslashes_and_percent_signs_survive_the_text_format(tmp_path):
    r1 = row(1)
    r1[3], r1[4] = "back\\slash", "tab\there"
    r2 = row(2)
    r2[10] = "100%\\N"  # '\N' is not NULL here, and '%' is not a format
    p = write_csv(tmp_path / "odd, 50%\tname.csv", [r1, r2, row(3)])
    s = stream(p)
    got = {r["_source_line"]: r for r in drain(s)}
    assert got["2"]["first_name"] == "back\\slash" and got["2"]["last_name"] == "tab\there"
    assert got["3"]["utm_medium"] == "100%\\N" and got["4"]["first_name"] == "Ana"
    assert {r["_source_file"] for r in got.values()} == {"odd, 50%\tname.csv"}
