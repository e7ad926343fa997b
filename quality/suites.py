"""Suites as code: which expectations guard which asset. Import-light (no GX here): the GX
classes are named by string and instantiated at validation time by `quality.gx_engine`.

Each `ExpectationSpec` becomes one asset check named `asset/key:<check>`, so an operator can
override exactly one of them (`--allow-failed-checks marts/van_source_code_assignments:gx_van_id_unique`).
Values known only at run time are declared, not computed: `SqlValues` (a value set read with one
SQL query, e.g. the seed's codes) and `EnvInt` (a bound from the environment).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from quality.errors import ConfigValueError, SuiteDefinitionError

__all__ = [
    "SqlValues",
    "EnvInt",
    "ExpectationSpec",
    "SuiteSpec",
    "expect",
    "MART_SUITE",
    "SIGNUPS_SUITE",
    "EVENTS_SUITE",
    "SUITES",
]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SqlValues:
    """A value set read from the warehouse with one SQL query (first column of every row)."""

    query: str
    label: str  # what the set is, for humans: "codes in seeds.source_code_map"


@dataclass(frozen=True)
class EnvInt:
    """An integer bound read from the environment at validation time."""

    name: str
    default: int | None

    def resolve(self, environ: Mapping[str, str] | None = None) -> int | None:
        env = os.environ if environ is None else environ
        raw = env.get(self.name, "").strip()
        if not raw:
            return self.default
        try:
            return int(raw)
        except ValueError:
            raise ConfigValueError(self.name, raw, "is not an integer") from None


@dataclass(frozen=True)
class ExpectationSpec:
    check: str  # check name, unique within the asset
    expectation: str  # GX 1.x class name in great_expectations.expectations
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    blocking: bool = True
    expected: str = ""  # human description of what is expected
    description: str = ""

    @property
    def column(self) -> str | None:
        col = self.kwargs.get("column")
        return col if isinstance(col, str) else None


def expect(
    check: str,
    expectation: str,
    *,
    blocking: bool = True,
    expected: str = "",
    description: str = "",
    **kwargs: Any,
) -> ExpectationSpec:
    """Shorthand: `expect("gx_van_id_unique", "ExpectColumnValuesToBeUnique", column="van_id")`."""
    return ExpectationSpec(
        check=check,
        expectation=expectation,
        kwargs=dict(kwargs),
        blocking=blocking,
        expected=expected,
        description=description or expected,
    )


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    asset: str  # asset key, e.g. "marts/van_source_code_assignments"
    table: str  # "schema.table" the suite runs on, in the warehouse
    expectations: tuple[ExpectationSpec, ...]
    partition_column: str | None = None  # when the check runs for a partition, filter on it
    # when the asset reports the loads it landed in this run (`load_ids`), validate only the rows
    # whose load column is one of them; None: always the whole table (or the partition)
    load_column: str | None = None
    reveal_columns: frozenset[str] = frozenset()  # non-personal columns whose samples stay unmasked
    extra_deps: tuple[str, ...] = ()  # other assets the suite reads (documentation for the graph)

    def __post_init__(self) -> None:
        parts = self.table.split(".")
        if len(parts) != 2 or not all(_IDENT.match(p) for p in parts):
            raise SuiteDefinitionError(self.name, f"table must be schema.table, got {self.table!r}")
        for what, col in (("partition", self.partition_column), ("load", self.load_column)):
            if col is not None and not _IDENT.match(col):
                raise SuiteDefinitionError(self.name, f"bad {what} column {col!r}")
        names = [e.check for e in self.expectations]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SuiteDefinitionError(self.name, f"duplicate check names: {', '.join(dupes)}")
        for e in self.expectations:
            if not e.expectation.startswith("Expect") and e.expectation != "UnexpectedRowsExpectation":
                raise SuiteDefinitionError(self.name, f"{e.check}: {e.expectation} is not a GX expectation")

    @property
    def schema_name(self) -> str:
        return self.table.split(".")[0]

    @property
    def table_name(self) -> str:
        return self.table.split(".")[1]

    def get(self, check: str) -> ExpectationSpec:
        for e in self.expectations:
            if e.check == check:
                return e
        raise SuiteDefinitionError(self.name, f"no expectation named {check!r}")


# --- the mart that feeds EveryAction --------------------------------------------------------

_UPSTREAM_QUERY = """
select m.van_id
from {batch} as m
left join raw.signups as s on s.van_id = m.van_id
left join raw.event_attendances as e on e.van_id = m.van_id
where m.van_id is not null and s.van_id is null and e.van_id is null
"""
# GX substitutes `{batch}` as "(subquery)" only when the query contains a JOIN (else it adds its
# own alias), so the anti-join is written with LEFT JOIN ... IS NULL (Postgres/Redshift plan it
# as an anti join; no row multiplication for the unmatched rows that are counted).

MART_SUITE = SuiteSpec(
    name="van_source_code_assignments",
    asset="marts/van_source_code_assignments",
    table="marts.van_source_code_assignments",
    reveal_columns=frozenset({"source_code_id", "first_touch_channel", "form_id", "utm_source"}),
    extra_deps=("raw/signups", "raw/event_attendances"),
    expectations=(
        expect("gx_van_id_not_null", "ExpectColumnValuesToNotBeNull", column="van_id",
               expected="van_id is never null"),
        expect("gx_van_id_integer", "ExpectColumnValuesToBeInTypeList", column="van_id",
               type_list=["BIGINT", "INTEGER", "SMALLINT"], expected="van_id is an integer column"),
        expect("gx_van_id_positive", "ExpectColumnValuesToBeBetween", column="van_id", min_value=1,
               expected="van_id >= 1"),
        expect("gx_van_id_unique", "ExpectColumnValuesToBeUnique", column="van_id",
               expected="one row per van_id"),
        expect("gx_source_code_not_null", "ExpectColumnValuesToNotBeNull", column="source_code_id",
               expected="source_code_id is never null"),
        expect(
            "gx_source_code_in_seed", "ExpectColumnValuesToBeInSet", column="source_code_id",
            value_set=SqlValues(
                "select distinct source_code_id from seeds.source_code_map"
                " where source_code_id is not null",
                "the codes in seeds.source_code_map",
            ),
            expected="source_code_id is one of the codes in seeds.source_code_map",
        ),
        expect("gx_first_touch_channel_valid", "ExpectColumnValuesToBeInSet",
               column="first_touch_channel", value_set=["form", "event"], blocking=False,
               expected="first_touch_channel in (form, event)"),
        expect("gx_van_id_present_upstream", "UnexpectedRowsExpectation",
               unexpected_rows_query=_UPSTREAM_QUERY,
               description="every van_id appears in raw.signups or raw.event_attendances",
               expected="every van_id appears in raw.signups or raw.event_attendances"),
        expect(
            "gx_row_count_within_bounds", "ExpectTableRowCountToBeBetween",
            min_value=EnvInt("QUALITY_MART_MIN_ROWS", 0),
            max_value=EnvInt("QUALITY_MART_MAX_ROWS", 1_000_000),
            expected="row count between {min_value} and {max_value} (QUALITY_MART_MIN_ROWS/MAX_ROWS)",
        ),
    ),
)

# --- raw landing tables ---------------------------------------------------------------------

_EMAIL_REGEX = r"^[^@[:space:]]+@[^@[:space:]]+\.[A-Za-z]{2,}$"

SIGNUPS_SUITE = SuiteSpec(
    name="raw_signups",
    asset="raw/signups",
    table="raw.signups",
    partition_column="_partition",
    load_column="_load_id",
    reveal_columns=frozenset(
        {"form_id", "utm_source", "utm_medium", "utm_campaign", "_load_id", "_source_file", "_partition"}
    ),
    expectations=(
        expect("gx_submission_id_not_null", "ExpectColumnValuesToNotBeNull", column="submission_id",
               expected="submission_id is never null"),
        expect("gx_load_id_not_null", "ExpectColumnValuesToNotBeNull", column="_load_id",
               expected="_load_id is never null"),
        expect("gx_van_id_positive", "ExpectColumnValuesToBeBetween", column="van_id", min_value=1,
               expected="van_id >= 1 when present"),
        expect("gx_email_column_exists", "ExpectColumnToExist", column="email",
               expected="an email column"),
        expect("gx_phone_column_exists", "ExpectColumnToExist", column="phone",
               expected="a phone column"),
        expect("gx_submission_unique_per_form", "ExpectCompoundColumnsToBeUnique",
               column_list=["form_id", "submission_id"], blocking=False,
               expected="(form_id, submission_id) is unique"),
        expect("gx_email_format", "ExpectColumnValuesToMatchRegex", column="email",
               regex=_EMAIL_REGEX, mostly=0.95, blocking=False,
               expected="at least 95% of emails look like an address"),
    ),
)

EVENTS_SUITE = SuiteSpec(
    name="raw_event_attendances",
    asset="raw/event_attendances",
    table="raw.event_attendances",
    partition_column="_partition",
    load_column="_load_id",
    reveal_columns=frozenset({"event_id", "utm_source", "_load_id", "_source_page", "_partition"}),
    expectations=(
        expect("gx_attendance_id_not_null", "ExpectColumnValuesToNotBeNull", column="attendance_id",
               expected="attendance_id is never null"),
        expect("gx_event_id_not_null", "ExpectColumnValuesToNotBeNull", column="event_id",
               expected="event_id is never null"),
        expect("gx_load_id_not_null", "ExpectColumnValuesToNotBeNull", column="_load_id",
               expected="_load_id is never null"),
        expect("gx_van_id_positive", "ExpectColumnValuesToBeBetween", column="van_id", min_value=1,
               expected="van_id >= 1 when present"),
        expect("gx_email_column_exists", "ExpectColumnToExist", column="email",
               expected="an email column"),
        expect("gx_attendance_id_unique", "ExpectColumnValuesToBeUnique", column="attendance_id",
               blocking=False, expected="attendance_id is unique"),
        expect("gx_email_format", "ExpectColumnValuesToMatchRegex", column="email",
               regex=_EMAIL_REGEX, mostly=0.95, blocking=False,
               expected="at least 95% of emails look like an address"),
    ),
)

SUITES: tuple[SuiteSpec, ...] = (SIGNUPS_SUITE, EVENTS_SUITE, MART_SUITE)
