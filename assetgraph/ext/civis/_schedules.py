"""Civis schedules as `scheduling.py` entries with the same fire times and time zone.

Civis fires at every (day, hour, minute) of the lists it stores, in the object's `timeZone`:
`scheduledDays` are weekdays with 0 = Sunday (cron's numbering too), `scheduledDaysOfMonth`
the days of the month (the two are exclusive), `scheduledMinutes` the minutes past each hour;
the older `scheduledRunsPerHour` = N means N runs evenly spaced over each hour. Empty hours
mean every hour; empty days mean every day. One cron expression says all of that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assetgraph.ext.civis._objects import CivisObject, CivisSchedule

__all__ = ["GeneratedSchedule", "cron_for", "schedule_for", "render_module", "DEFAULT_TIMEZONE"]

DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class GeneratedSchedule:
    """The fields of `scheduling.Schedule` this import sets (kept as plain data)."""

    name: str
    selection: str
    cron: str
    timezone: str
    description: str
    tags: tuple[str, ...] = ("civis",)
    active: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "selection": self.selection, "cron": self.cron,
                "timezone": self.timezone, "description": self.description, "tags": self.tags,
                "active": self.active}


def _field(values: tuple[int, ...]) -> str:
    return ",".join(str(v) for v in values) if values else "*"


def cron_for(s: CivisSchedule) -> tuple[str, list[str]]:
    """(cron, notes) for a scheduled Civis object."""
    notes: list[str] = []
    if s.minutes:
        minutes = s.minutes
    elif s.runs_per_hour:
        minutes = tuple(sorted({i * 60 // s.runs_per_hour for i in range(s.runs_per_hour)}))
        if 60 % s.runs_per_hour:
            notes.append(f"{s.runs_per_hour} runs per hour do not divide the hour: minutes {list(minutes)}")
    else:
        minutes = (0,)
    if not s.hours and not s.runs_per_hour and not s.minutes:
        notes.append("the Civis schedule names no hours: runs every hour at minute 0")
    if s.days and s.days_of_month:
        notes.append("the Civis schedule has both weekdays and days of the month (exclusive in Civis):"
                     " cron fires on either")
    cron = f"{_field(minutes)} {_field(s.hours)} {_field(s.days_of_month)} * {_field(s.days)}"
    return cron, notes


def schedule_for(obj: CivisObject, selection: str) -> tuple[GeneratedSchedule | None, list[str]]:
    s = obj.schedule
    if s is None or not s.scheduled or not selection:
        return None, []
    cron, notes = cron_for(s)
    tz = obj.time_zone
    if not tz:
        tz = DEFAULT_TIMEZONE
        notes.append(f"the export has no timeZone: {DEFAULT_TIMEZONE} assumed")
    name = f"civis-{obj.type}-{obj.id}-{obj.slug.replace('_', '-')}"[:100]
    return GeneratedSchedule(name, selection, cron, tz, f"Civis {obj.label}, moved by assetgraph civis import"), notes


def render_module(schedules: list[GeneratedSchedule]) -> str:
    lines = [
        '"""Schedules moved from Civis by `assetgraph civis import` (generated; importing again',
        "rewrites this file). `scheduling.py` adds them to its SCHEDULES; to own one by hand, move",
        'it there and delete it from the Civis export."""',
        "",
        "SCHEDULES = (",
    ]
    for s in sorted(schedules, key=lambda x: x.name):
        lines.append(f"    {s.as_dict()!r},")
    lines.append(")")
    return "\n".join(lines) + "\n"
