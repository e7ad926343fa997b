"""Helpers shared by the signup landing tests (not a test module)."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any, Iterable, Sequence

from assetgraph.warehouse import connect

HEADER = (
    "submission_id", "form_id", "submitted_at", "first_name", "last_name", "email", "phone",
    "zip", "van_id", "utm_source", "utm_medium", "utm_campaign",
)


def rows(wh: Any, sql: str, *args: Any) -> list[tuple]:
    with connect(wh) as conn, conn.cursor() as cur:
        cur.execute(sql, args or None)
        return cur.fetchall()


def scalar(wh: Any, sql: str, *args: Any) -> Any:
    (value,), = rows(wh, sql, *args)
    return value


def table_exists(wh: Any, name: str) -> bool:
    return scalar(wh, "select to_regclass(%s) is not null", name)


def row(i: int, *, ts: str | None = None, van: str = "", email: str | None = None) -> list[str]:
    """A valid signup row with predictable values."""
    return [
        f"s_{i:06d}", "newsletter", f"2026-11-01T10:{i % 60:02d}:00Z" if ts is None else ts, "Ana", "Rivera",
        email if email is not None else f"ana{i}@example.org", "(202) 555-0100", "20001", van,
        "email", "email", "gotv_2026",
    ]


def write_csv(path: Path, data: Iterable[Sequence[str]], header: Sequence[str] = HEADER, *, gz: bool = False,
              newline: str = "\r\n", bom: bool = False) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    if header:
        w.writerow(header)
    w.writerows(data)
    raw = (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return path


def write_text(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def table_fingerprint(wh: Any, table: str = "raw.signups") -> tuple[int, str]:
    """Row count and an order-independent digest of every row: equal means unchanged."""
    return rows(
        wh, f"select count(*), coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '') from {table} t"
    )[0]
