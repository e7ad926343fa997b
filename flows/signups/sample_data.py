"""Realistic, messy signup-form exports for tests, demos and benchmarks.

Deterministic by seed (same arguments, byte-identical files, `.gz` included) and streaming: a
million rows never sit in memory. The mess is the kind real form tools and spreadsheets produce:

- emails in mixed case with stray spaces; phones in six formats; ZIPs as ZIP+4 or with the
  leading zero a spreadsheet dropped; blank and (rarely) non-integer VAN IDs (`#N/A`, `123.0`);
- timestamps as ISO 8601 with an offset (several offsets, `Z`, some milliseconds) or as
  `MM/DD/YYYY HH:MM` in local time (`--timezone`, default UTC);
- the same submission repeated (same `submission_id`), within a file and at the start of the
  next file (export windows overlap); the same person submitting again with a new id;
- names with accents, apostrophes and commas (quoted fields), CRLF line endings.

Names and emails are invented (`example.org`/`.com`/`.net`); phones use the 555-01xx range.

    python -m flows.signups.sample_data --out data/signups --rows 1000 --days 7 --seed 1 [--gzip]
        [--files K] [--start 2026-11-01] [--timezone UTC] [--bad-fraction 0.02]

`--bad-fraction` injects unparseable rows (wrong field count, bad timestamp, non-integer VAN ID)
for tests. Each `GeneratedFile` reports how many rows a correct loader lands per submission date
and how many it must quarantine.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import itertools
import random
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

__all__ = ["COLUMNS", "SampleConfig", "GeneratedFile", "generate", "main"]

COLUMNS: tuple[str, ...] = (
    "submission_id", "form_id", "submitted_at", "first_name", "last_name", "email", "phone",
    "zip", "van_id", "utm_source", "utm_medium", "utm_campaign",
)

_FIRST = (
    "Ana", "Marcus", "Priya", "José", "Keisha", "Liam", "Mei", "Omar", "Fatima", "Dmitri",
    "Grace", "Tyrone", "Sofía", "Hannah", "Andre", "Chloé", "Kwame", "Ingrid", "Rosa", "Malik",
    "Yuki", "Noah", "Aaliyah", "Björn", "Camila", "Darnell", "Elena", "Farid", "Gabriela", "Hiro",
)
_LAST = (
    "Rivera", "O'Brien", "Nguyễn", "Okafor", "Smith-Jones", "García", "Kowalski", "Haddad",
    "Johnson", "Lindqvist", "Washington", "Patel", "Smith, Jr.", "Moreau", "Tanaka", "Brown",
    "Castillo", "Mensah", "Schmidt", "Williams", "D'Angelo", "Ivanova", "Park", "Delacroix",
)
_ASCII = str.maketrans({"é": "e", "í": "i", "ö": "o", "ễ": "e", "á": "a", "ñ": "n", "'": "", " ": ""})
_DOMAINS = ("example.org", "example.com", "example.net", "mail.example.org")
_AREA = ("202", "312", "415", "512", "614", "617", "720", "919", "404", "503")
_FORMS = (
    ("petition-climate-2026", 35), ("volunteer-signup", 20), ("event-rsvp-town-hall", 15),
    ("newsletter", 20), ("donate-lead", 10),
)
_UTM = (  # (source, medium, weight)
    ("facebook", "paid_social", 20), ("Facebook", "social", 5), ("google", "cpc", 15),
    ("email", "email", 20), ("instagram", "social", 8), ("sms", "text", 7),
    ("partner-org", "referral", 5), ("", "", 20),
)
_CAMPAIGNS = ("gotv_2026", "climate_petition", "volunteer_drive", "fall-fundraiser", "")
_OFFSETS = ((0, "+00:00"), (0, "Z"), (-5, "-05:00"), (-4, "-04:00"), (-8, "-08:00"), (1, "+01:00"))
_BAD_VAN = ("#N/A", "n/a", "VAN{n}", "{n}.0", "unknown")
_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """A 64-bit integer hash (splitmix64 finaliser): person attributes from an index."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@dataclass(frozen=True)
class SampleConfig:
    rows: int = 1000
    days: int = 7
    seed: int = 0
    start: dt.date = dt.date(2026, 11, 1)
    gzip: bool = False
    files: int | None = None  # None: one file per day
    timezone: str = "UTC"  # zone of the MM/DD/YYYY timestamps and of day boundaries
    bad_fraction: float = 0.0  # injected unparseable rows
    duplicate_fraction: float = 0.02  # same submission repeated later in the file
    overlap_fraction: float = 0.005  # previous file's last rows repeated at a file's start
    messy_van_id_fraction: float = 0.0005  # organic non-integer VAN IDs (quarantined)
    returning_fraction: float = 0.25  # submissions by someone who submitted before

    def __post_init__(self) -> None:
        if self.rows < 0 or self.days < 1:
            raise ValueError("rows must be >= 0 and days >= 1")
        if self.files is not None and self.files < 1:
            raise ValueError("files must be >= 1")
        for name in ("bad_fraction", "duplicate_fraction", "overlap_fraction",
                     "messy_van_id_fraction", "returning_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    rows: int  # data records written (header excluded)
    landable_by_day: Mapping[str, int]  # rows a correct loader lands, by submission date
    quarantinable: int  # rows a correct loader quarantines
    bad_by_kind: Mapping[str, int] = field(default_factory=dict)

    @property
    def landable(self) -> int:
        return sum(self.landable_by_day.values())


@dataclass
class _Row:
    fields: list[str]
    day: str
    bad: str | None  # kind of defect, None when the row is fine


class _People:
    """Invented people derived from an index, so none need to be kept in memory."""

    def __init__(self, seed: int) -> None:
        self.salt = _mix(seed & _M64)

    def get(self, pid: int) -> tuple[str, str, str, str, str, str]:
        h = _mix(self.salt ^ pid)
        h2 = _mix(h)
        first = _FIRST[h % len(_FIRST)]
        last = _LAST[(h >> 8) % len(_LAST)]
        local = f"{first}.{last.split(',')[0]}".translate(_ASCII).lower()
        email = f"{local}{(h >> 16) % 1000}@{_DOMAINS[(h >> 26) % len(_DOMAINS)]}"
        phone = f"{_AREA[(h >> 30) % len(_AREA)]}55501{(h >> 34) % 100:02d}"
        zip_ = f"{(h2 % 99000) + 1000:05d}"
        van = "" if (h2 >> 20) % 10 < 3 else str(100000 + (h2 >> 24) % 90_000_000)
        return first, last, email, phone, zip_, van


class _Generator:
    def __init__(self, cfg: SampleConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.people = _People(cfg.seed)
        self.zone = dt.timezone.utc if cfg.timezone.upper() == "UTC" else ZoneInfo(cfg.timezone)
        self.next_pid = 0
        self.counter = 0
        self.forms = [f for f, _ in _FORMS]
        self.form_cw = list(itertools.accumulate(w for _, w in _FORMS))
        self.utm_cw = list(itertools.accumulate(w for *_, w in _UTM))
        self.utm_idx = range(len(_UTM))

    def _timestamp(self, local: dt.datetime) -> str:
        rng = self.rng
        if rng.random() < 0.35:
            return f"{local.month:02d}/{local.day:02d}/{local.year:04d} {local.hour:02d}:{local.minute:02d}"
        instant = local.replace(tzinfo=self.zone)
        hours, suffix = _OFFSETS[rng.randrange(len(_OFFSETS))]
        shown = instant.astimezone(dt.timezone(dt.timedelta(hours=hours)))
        frac = f".{rng.randrange(1000):03d}" if rng.random() < 0.05 else ""
        return f"{shown:%Y-%m-%dT%H:%M:%S}{frac}{suffix}"

    def _email(self, email: str) -> str:
        r = self.rng.random()
        if r < 0.03:
            return ""
        if r < 0.15:
            email = email.title()
        elif r < 0.20:
            email = email.upper()
        if self.rng.random() < 0.06:
            email = " " + email if self.rng.random() < 0.5 else email + "  "
        return email

    def _phone(self, digits: str) -> str:
        a, b, c = digits[:3], digits[3:6], digits[6:]
        k = self.rng.randrange(7)
        return (f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", digits, f"+1 {a} {b} {c}",
                f"1-{a}-{b}-{c}", "")[k]

    def _zip(self, zip_: str) -> str:
        r = self.rng.random()
        if r < 0.05:
            return ""
        if r < 0.15:
            return f"{zip_}-{self.rng.randrange(10000):04d}"
        if r < 0.25:
            return zip_.lstrip("0") or "0"
        return zip_

    def row(self, local: dt.datetime, day: str) -> _Row:
        rng, cfg = self.rng, self.cfg
        if self.next_pid and rng.random() < cfg.returning_fraction:
            pid = rng.randrange(self.next_pid)
        else:
            pid, self.next_pid = self.next_pid, self.next_pid + 1
        first, last, email, phone, zip_, van = self.people.get(pid)
        self.counter += 1
        sid = f"s_{_mix(self.people.salt + self.counter):016x}"
        source, medium, _ = _UTM[rng.choices(self.utm_idx, cum_weights=self.utm_cw)[0]]
        campaign = "" if not source else _CAMPAIGNS[rng.randrange(len(_CAMPAIGNS))]
        bad = None
        if van and rng.random() < cfg.messy_van_id_fraction / 0.7:
            van = _BAD_VAN[rng.randrange(len(_BAD_VAN))].format(n=van)
            bad = "van_id"
        fields = [
            sid, rng.choices(self.forms, cum_weights=self.form_cw)[0], self._timestamp(local), first, last,
            self._email(email), self._phone(phone), self._zip(zip_), van, source, medium, campaign,
        ]
        row = _Row(fields, day, bad)
        if cfg.bad_fraction and rng.random() < cfg.bad_fraction:
            self._spoil(row)
        return row

    def _spoil(self, row: _Row) -> None:
        kind = ("extra_field", "missing_field", "timestamp", "van_id")[self.rng.randrange(4)]
        f = row.fields
        if kind == "extra_field":
            f.insert(4, "Jr.")  # an unquoted comma in a name, as hand-edited files have
        elif kind == "missing_field":
            del f[-1]
        elif kind == "timestamp":
            f[2] = ("not a date", "2026-13-45T10:00:00Z", "31/12/2026 10:00", "yesterday")[
                self.rng.randrange(4)]
        else:
            f[8] = f"VAN-{self.rng.randrange(10**6)}"
        row.bad = kind

    def days(self) -> Iterator[tuple[str, dt.datetime, int]]:
        cfg = self.cfg
        base, extra = divmod(cfg.rows, cfg.days)
        for i in range(cfg.days):
            day = cfg.start + dt.timedelta(days=i)
            yield day.isoformat(), dt.datetime(day.year, day.month, day.day), base + (i < extra)

    def rows(self) -> Iterator[_Row]:
        """Base rows in submission order (no duplicates yet)."""
        for day, midnight, n in self.days():
            for i in range(n):
                sec = int((i + self.rng.random()) * 86400 / n)
                yield self.row(midnight + dt.timedelta(seconds=sec), day)


def _file_plan(cfg: SampleConfig) -> list[tuple[str, int]]:
    """(file stem, number of base rows) per file."""
    if cfg.files is None:
        base, extra = divmod(cfg.rows, cfg.days)
        return [
            (f"signups_{(cfg.start + dt.timedelta(days=i)).isoformat()}", base + (i < extra))
            for i in range(cfg.days)
        ]
    base, extra = divmod(cfg.rows, cfg.files)
    sizes = [base + (i < extra) for i in range(cfg.files)]
    plan, first_row = [], 0
    per_day_base, per_day_extra = divmod(cfg.rows, cfg.days)
    bounds = [0]
    for i in range(cfg.days):
        bounds.append(bounds[-1] + per_day_base + (i < per_day_extra))

    def day_of(row_index: int) -> str:
        d = next((i for i in range(cfg.days) if bounds[i + 1] > row_index), cfg.days - 1)
        return (cfg.start + dt.timedelta(days=d)).isoformat()

    for i, size in enumerate(sizes):
        plan.append((f"signups_{day_of(first_row)}_part{i + 1:03d}", size))
        first_row += size
    return plan


class _Writer:
    """One output file: CSV (CRLF, minimal quoting) or deterministic gzip (mtime 0)."""

    def __init__(self, path: Path, compress: bool) -> None:
        self.path = path
        self.raw = open(path, "wb")
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, mtime=0, compresslevel=6) if compress else None
        self.text = io.TextIOWrapper(self.gz or self.raw, encoding="utf-8", newline="", write_through=False)
        self.csv = csv.writer(self.text)
        self.csv.writerow(COLUMNS)
        self.rows = 0
        self.landable: dict[str, int] = {}
        self.bad: dict[str, int] = {}

    def write(self, row: _Row) -> None:
        self.csv.writerow(row.fields)
        self.rows += 1
        if row.bad is None:
            self.landable[row.day] = self.landable.get(row.day, 0) + 1
        else:
            self.bad[row.bad] = self.bad.get(row.bad, 0) + 1

    def close(self) -> GeneratedFile:
        self.text.flush()
        self.text.detach()
        if self.gz is not None:
            self.gz.close()
        self.raw.close()
        return GeneratedFile(
            path=self.path,
            rows=self.rows,
            landable_by_day=dict(sorted(self.landable.items())),
            quarantinable=sum(self.bad.values()),
            bad_by_kind=dict(sorted(self.bad.items())),
        )


def generate(out_dir: str | Path, config: SampleConfig | None = None, **overrides: object) -> list[GeneratedFile]:
    """Write the sample files into `out_dir` (created if needed); return what each holds."""
    cfg = config or SampleConfig()
    if overrides:
        import dataclasses

        cfg = dataclasses.replace(cfg, **overrides)  # type: ignore[arg-type]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = _Generator(cfg)
    dup_rng = random.Random(cfg.seed ^ 0x5EED)
    suffix = ".csv.gz" if cfg.gzip else ".csv"
    rows = gen.rows()
    results: list[GeneratedFile] = []
    tail: deque[_Row] = deque(maxlen=200)
    for stem, size in _file_plan(cfg):
        writer = _Writer(out / f"{stem}{suffix}", cfg.gzip)
        overlap = min(len(tail), round(results[-1].rows * cfg.overlap_fraction)) if results else 0
        for row in list(tail)[len(tail) - overlap:] if overlap else ():
            writer.write(row)
        tail.clear()
        pending: list[tuple[int, _Row]] = []
        for i in range(size):
            row = next(rows)
            writer.write(row)
            tail.append(row)
            if dup_rng.random() < cfg.duplicate_fraction:
                pending.append((i + dup_rng.randrange(1, 30), row))
            while pending and pending[0][0] <= i:
                writer.write(pending.pop(0)[1])
        for _, row in pending:
            writer.write(row)
        results.append(writer.close())
    return results


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m flows.signups.sample_data", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="directory to write the files into")
    p.add_argument("--rows", type=int, default=1000, help="base rows over all files (default 1000)")
    p.add_argument("--days", type=int, default=7, help="days of submissions (default 7)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gzip", action="store_true", help="write .csv.gz instead of .csv")
    p.add_argument("--files", type=int, default=None, help="K files of equal size instead of one per day")
    p.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 11, 1),
                   help="first submission date (default 2026-11-01)")
    p.add_argument("--timezone", default="UTC", help="zone of MM/DD/YYYY times and day boundaries")
    p.add_argument("--bad-fraction", type=float, default=0.0, help="inject this share of unparseable rows")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    a = _parse_args(argv)
    try:
        cfg = SampleConfig(rows=a.rows, days=a.days, seed=a.seed, start=a.start, gzip=a.gzip,
                           files=a.files, timezone=a.timezone, bad_fraction=a.bad_fraction)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    files = generate(a.out, cfg)
    total = sum(f.rows for f in files)
    bad = sum(f.quarantinable for f in files)
    print(f"wrote {len(files)} files, {total} rows ({bad} unparseable) to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
