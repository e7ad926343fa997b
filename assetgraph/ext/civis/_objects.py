"""Read an export directory into frozen value objects: one per Civis API body.

The files hold the API's own JSON (`GET /scripts/sql/{id}` etc.); this module checks the few
fields the import relies on and reports a malformed file with one line naming it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from assetgraph.ext.civis.errors import CivisExportFileError

__all__ = ["CivisObject", "CivisSchedule", "read_export", "slugify", "KINDS"]

# export sub-directory -> (report type, label used in messages)
KINDS: dict[str, tuple[str, str]] = {
    "scripts/sql": ("sql", "sql script"),
    "scripts/python3": ("python3", "python3 script"),
    "scripts/containers": ("container", "container script"),
    "workflows": ("workflow", "workflow"),
    "imports": ("import", "import"),
}
_REQUIRED_TEXT = {"sql": "sql", "python3": "source", "workflow": "definition"}


@dataclass(frozen=True)
class CivisSchedule:
    """The API's `schedule` object (JobSchedule). Days: 0 = Sunday."""

    scheduled: bool
    days: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    runs_per_hour: int | None = None
    days_of_month: tuple[int, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "scheduled": self.scheduled,
            "scheduledDays": list(self.days),
            "scheduledHours": list(self.hours),
            "scheduledMinutes": list(self.minutes),
            "scheduledRunsPerHour": self.runs_per_hour,
            "scheduledDaysOfMonth": list(self.days_of_month),
        }


@dataclass(frozen=True)
class CivisObject:
    type: str  # sql | python3 | container | workflow | import
    id: int
    name: str
    path: str  # relative to the export directory
    body: Mapping[str, Any] = field(repr=False)
    schedule: CivisSchedule | None = None
    time_zone: str | None = None

    @property
    def label(self) -> str:
        kind = next(lbl for t, lbl in KINDS.values() if t == self.type)
        return f'{kind} {self.id} "{self.name}"'

    @property
    def kind_label(self) -> str:
        return next(lbl for t, lbl in KINDS.values() if t == self.type)

    @property
    def author(self) -> str:
        person = self.body.get("author") or self.body.get("user") or {}
        return str(person.get("name") or person.get("username") or "") if isinstance(person, dict) else ""

    @property
    def updated_at(self) -> str:
        return str(self.body.get("updatedAt") or "")

    @property
    def slug(self) -> str:
        return slugify(self.name) or f"{self.type}_{self.id}"


def slugify(name: str) -> str:
    """`"Nightly VAN export (v2)"` -> `nightly_van_export_v2`: a Python and dbt identifier."""
    slug = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    if slug and slug[0].isdigit():
        slug = "s_" + slug
    return slug[:60].rstrip("_")


def _int_list(value: Any, what: str, fail: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        fail(f"schedule.{what} must be a list of integers, got {value!r}")
    return tuple(sorted(set(value)))


def _schedule(raw: Any, fail: Any) -> CivisSchedule | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        fail("schedule must be an object")
    runs = raw.get("scheduledRunsPerHour")
    if runs is not None and (not isinstance(runs, int) or isinstance(runs, bool) or not 0 <= runs <= 60):
        fail(f"schedule.scheduledRunsPerHour must be an integer 0-60, got {runs!r}")
    sched = CivisSchedule(
        scheduled=bool(raw.get("scheduled")),
        days=_int_list(raw.get("scheduledDays"), "scheduledDays", fail),
        hours=_int_list(raw.get("scheduledHours"), "scheduledHours", fail),
        minutes=_int_list(raw.get("scheduledMinutes"), "scheduledMinutes", fail),
        runs_per_hour=runs or None,
        days_of_month=_int_list(raw.get("scheduledDaysOfMonth"), "scheduledDaysOfMonth", fail),
    )
    for values, lo, hi, what in (
        (sched.days, 0, 6, "scheduledDays"), (sched.hours, 0, 23, "scheduledHours"),
        (sched.minutes, 0, 59, "scheduledMinutes"), (sched.days_of_month, 1, 31, "scheduledDaysOfMonth"),
    ):
        if any(not lo <= v <= hi for v in values):
            fail(f"schedule.{what} values must be {lo}-{hi}, got {list(values)}")
    return sched


def _read_one(root: Path, path: Path, type_: str, label: str) -> CivisObject:
    rel = path.relative_to(root).as_posix()

    def fail(reason: str, body: Mapping[str, Any] | None = None) -> None:
        oid = body.get("id") if body else None
        name = str(body.get("name") or "") if body else ""
        raise CivisExportFileError(label, rel, reason, oid, name)

    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        fail("not UTF-8 text")
    except json.JSONDecodeError as exc:
        fail(f"not valid JSON (line {exc.lineno}: {exc.msg})")
    if not isinstance(body, dict):
        fail("not a JSON object (expected the API's body for one object)")
    oid = body.get("id")
    if not isinstance(oid, int) or isinstance(oid, bool):
        fail(f"has no integer 'id' (got {oid!r})")
    if path.stem != str(oid):
        fail(f"holds id {oid} but is named {path.name}", body)
    if not isinstance(body.get("name"), str):
        fail("has no 'name' string", body)
    text_field = _REQUIRED_TEXT.get(type_)
    if text_field and not isinstance(body.get(text_field), str):
        fail(f"has no '{text_field}' text", body)
    if type_ == "container" and not isinstance(body.get("dockerImageName"), str):
        fail("has no 'dockerImageName'", body)
    if type_ == "import" and not isinstance(body.get("syncs") or [], list):
        fail("'syncs' is not a list", body)
    tz = body.get("timeZone")
    if tz is not None and not isinstance(tz, str):
        fail("'timeZone' is not a string", body)
    schedule = _schedule(body.get("schedule"), lambda r: fail(r, body))
    return CivisObject(type_, oid, body["name"], rel, body, schedule, tz)


def read_export(export_dir: Path) -> tuple[CivisObject, ...]:
    """Every object of an export, in a stable order (kind, then id)."""
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise CivisExportFileError("export", str(export_dir), "is not a directory")
    found: list[CivisObject] = []
    for sub, (type_, label) in KINDS.items():
        folder = export_dir / sub
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json"), key=lambda p: (len(p.stem), p.stem)):
            found.append(_read_one(export_dir, path, type_, label))
    if not found:
        raise CivisExportFileError(
            "export", str(export_dir),
            "holds no Civis objects (expected scripts/sql/<id>.json, workflows/<id>.json, ...)",
        )
    return tuple(found)
