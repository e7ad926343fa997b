"""Timestamp validation that agrees with Postgres, and the partition date of a timestamp.

Landing sends timestamps to Postgres as they appear in the export, so a text is accepted only
when Postgres (session `DateStyle = 'ISO, MDY'`, `TimeZone` = the table's zone) reads it the
same way Python does:

- ISO 8601: `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]` with `Z`, `±HH`, `±HHMM`, `±HH:MM` or no offset;
- US style: `M/D/YYYY H:MM[:SS]`, optionally followed by `AM`/`PM`.

Times without an offset are in the table's zone. The partition date is the date in that zone.
Results are memoised per minute (per text for the US style): an ISO text whose minute and offset
were seen before costs one dict lookup and a check of its seconds, anything else one
`fromisoformat`. Everything works on ASCII bytes, the form the landing code reads files in.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

__all__ = ["TimestampParser", "SECONDS"]

_MEMO_LIMIT = 500_000
SECONDS = frozenset(b":%02d" % n for n in range(60))  # what may follow HH:MM in a `by_minute` hit
_MDY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: ?([AaPp])[Mm])?")
_DASH, _COLON, _T, _SPACE = ord("-"), ord(":"), ord("T"), ord(" ")


class TimestampParser:
    """`partition(b"2026-11-01T23:30:00-05:00") == b"2026-11-02"` (zone UTC); `b""` = invalid.

    `iso`, `by_minute` and `mdy` are the memo dicts. `partition` tries them first; the landing
    hot loop does the same inline (a method call per row costs more than the lookup) and calls
    `iso_partition` / `parse_mdy` on a miss."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self.zone: dt.tzinfo = dt.timezone.utc if timezone.upper() == "UTC" else ZoneInfo(timezone)
        self.iso: dict[tuple[bytes, dt.tzinfo | None], bytes] = {}
        self.mdy: dict[bytes, bytes] = {}
        # `text[:16] + text[19:]` of valid `...THH:MM:SS<offset>` texts (no fraction): another text
        # with the same key differs only in its seconds, so checking ':SS' validates it.
        self.by_minute: dict[bytes, bytes] = {}
        # One bytes object per date, whichever memo found it: the landing loop counts rows per
        # run of one date by identity, and the two formats interleave in real exports.
        self._dates: dict[bytes, bytes] = {}

    def partition(self, s: bytes) -> bytes:
        if b"/" in s:
            p = self.mdy.get(s)
            return self.parse_mdy(s) if p is None else p
        p = self.by_minute.get(s[:16] + s[19:])
        if p is None or s[16:19] not in SECONDS:
            return self.iso_partition(s)
        return p

    def iso_partition(self, s: bytes) -> bytes:
        if b"," in s:  # fromisoformat accepts a decimal comma, Postgres does not
            return b""
        try:
            d = dt.datetime.fromisoformat(s.decode("ascii"))
        except ValueError:  # also UnicodeDecodeError
            return b""
        p = self.iso.get((s[:16], d.tzinfo))
        if p is None:
            return self.parse_iso(s, d)
        if len(s) >= 19 and s[16] == _COLON and b"." not in s:
            self.by_minute[s[:16] + s[19:]] = p
        return p

    def partition_text(self, s: str) -> bytes:
        """`partition` for a str (a parsed CSV field); b'' when invalid."""
        return self.partition(s.encode("ascii")) if s.isascii() else b""

    def parse_iso(self, s: bytes, d: dt.datetime) -> bytes:
        """The partition of `s`, already parsed as `d` by fromisoformat; b'' when the shape is
        one Postgres reads differently (basic format, week dates, odd separators)."""
        if len(s) < 16 or s[4] != _DASH or s[7] != _DASH or s[10] not in (_T, _SPACE) or s[13] != _COLON:
            return b""
        p = s[:10] if d.tzinfo is None else d.astimezone(self.zone).date().isoformat().encode("ascii")
        p = self._dates.setdefault(p, p)
        # (first 16 characters, offset) fixes the minute, hence the date in any real zone.
        if len(self.iso) > _MEMO_LIMIT or len(self.by_minute) > _MEMO_LIMIT:
            self.iso.clear()
            self.by_minute.clear()
        self.iso[(s[:16], d.tzinfo)] = p
        if len(s) >= 19 and s[16] == _COLON and b"." not in s:
            self.by_minute[s[:16] + s[19:]] = p
        return p

    def parse_mdy(self, s: bytes) -> bytes:
        p = b""
        m = _MDY.fullmatch(s.decode("ascii", "replace"))
        if m is not None:
            month, day, year, hour, minute = (int(m[i]) for i in range(1, 6))
            second = int(m[6] or 0)
            if m[7] is not None:  # 12-hour clock
                hour = hour % 12 + (12 if m[7] in "Pp" else 0) if 1 <= hour <= 12 else -1
            try:
                dt.datetime(year, month, day, hour, minute, second)
                p = f"{year:04d}-{month:02d}-{day:02d}".encode("ascii")
                p = self._dates.setdefault(p, p)
            except ValueError:
                p = b""
        if len(self.mdy) > _MEMO_LIMIT:
            self.mdy.clear()
        self.mdy[s] = p
        return p
