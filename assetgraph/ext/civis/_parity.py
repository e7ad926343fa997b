"""Compare a shadow relation with its live table, in SQL that runs on Redshift and Postgres.

- row counts;
- per column, an order-independent fingerprint: the count of non-null values and the sum of
  a 28-bit hash of each value's text (the first 7 hex digits of `md5`, turned into an integer
  with `position()`/`substring()`, which both warehouses have; Redshift lacks Postgres's
  bit-string casts and Postgres lacks Redshift's `strtol`);
- a few rows found on one side only (`EXCEPT`), with personal data masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["Parity", "compare", "mask", "PERSONAL"]

_HEX_DIGITS = 7
PERSONAL = re.compile(
    r"(e_?mail|phone|mobile|name|addr|street|city|zip|postal|birth|dob|ssn|ip_?address|lat|lon|van_?id)",
    re.I,
)


@dataclass(frozen=True)
class Parity:
    live_rows: int
    shadow_rows: int
    problems: tuple[str, ...]  # empty: the same
    sample: tuple[str, ...] = ()  # masked rows found on one side only

    @property
    def ok(self) -> bool:
        return not self.problems


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _hash(col: str) -> str:
    hexed = f"md5(cast({_quote(col)} as varchar))"
    terms = [
        f"(position(substring({hexed}, {i + 1}, 1) in '0123456789abcdef') - 1) * {16 ** (_HEX_DIGITS - 1 - i)}"
        for i in range(_HEX_DIGITS)
    ]
    return f"case when {_quote(col)} is null then null else {' + '.join(terms)} end"


def _columns(cur: Any, schema: str, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    )
    return [(r[0], r[1]) for r in cur.fetchall()]


def _fingerprints(cur: Any, relation: str, columns: Sequence[str]) -> tuple[int, dict[str, tuple[int, int]]]:
    parts = ["count(*)"]
    for c in columns:
        parts += [f"count({_quote(c)})", f"coalesce(sum(cast({_hash(c)} as bigint)), 0)"]
    cur.execute(f"select {', '.join(parts)} from {relation}")
    row = cur.fetchone()
    out = {c: (int(row[1 + 2 * i]), int(row[2 + 2 * i])) for i, c in enumerate(columns)}
    return int(row[0]), out


def mask(column: str, value: Any) -> str:
    if value is None:
        return "null"
    if PERSONAL.search(column):
        return "***"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _sample(cur: Any, first: str, second: str, columns: Sequence[str], label: str, limit: int) -> list[str]:
    cols = ", ".join(f"cast({_quote(c)} as varchar) as {_quote(c)}" for c in columns)
    cur.execute(f"select {cols} from {first} except select {cols} from {second} limit {int(limit)}")
    return [label + ": " + ", ".join(f"{c}={mask(c, v)}" for c, v in zip(columns, row)) for row in cur.fetchall()]


def _relation(schema: str, table: str) -> str:
    return f"{_quote(schema)}.{_quote(table)}"


def compare(cur: Any, live: tuple[str, str], shadow: tuple[str, str], sample_rows: int = 3) -> Parity:
    live_cols = _columns(cur, *live)
    shadow_cols = _columns(cur, *shadow)
    if not live_cols:
        return Parity(0, 0, (f"live table {live[0]}.{live[1]} does not exist",))
    if not shadow_cols:
        return Parity(0, 0, (f"the migrated model built no relation {shadow[0]}.{shadow[1]}",))
    problems: list[str] = []
    live_types, shadow_types = dict(live_cols), dict(shadow_cols)
    only_live = [c for c in live_types if c not in shadow_types]
    only_shadow = [c for c in shadow_types if c not in live_types]
    if only_live:
        problems.append("columns missing from the model: " + ", ".join(only_live))
    if only_shadow:
        problems.append("columns only in the model: " + ", ".join(only_shadow))
    common = [c for c in live_types if c in shadow_types]
    live_rel, shadow_rel = _relation(*live), _relation(*shadow)
    live_rows, live_fp = _fingerprints(cur, live_rel, common)
    shadow_rows, shadow_fp = _fingerprints(cur, shadow_rel, common)
    if live_rows != shadow_rows:
        problems.append(f"row count: live {live_rows}, model {shadow_rows}")
    for c in common:
        if live_fp[c] != shadow_fp[c]:
            (ln, _), (sn, _) = live_fp[c], shadow_fp[c]
            how = f"{ln} vs {sn} non-null values" if ln != sn else "values differ"
            types = f" (types {live_types[c]} vs {shadow_types[c]})" if live_types[c] != shadow_types[c] else ""
            problems.append(f"column {c}: {how}{types}")
    sample: list[str] = []
    if problems and common:
        sample += _sample(cur, live_rel, shadow_rel, common, "only live", sample_rows)
        sample += _sample(cur, shadow_rel, live_rel, common, "only model", sample_rows)
    return Parity(live_rows, shadow_rows, tuple(problems), tuple(sample))
