"""From one attendance record of the events API to one row of `raw.event_attendances`.

The table (contract with dbt's `source('raw', 'event_attendances')`, kept exactly):

    attendance_id bigint, event_id bigint, event_title text, timeslot_start timestamptz,
    attended_at timestamptz, email text, phone text, first_name text, last_name text, zip text,
    van_id bigint (null when unknown), utm_source text, _loaded_at timestamptz,
    _source_page text, _load_id text, _partition date

Mapping: `id`; `event.id`, `event.title`; `timeslot.start_date` (Unix seconds); `attended_at` is
the timeslot's start when `attended` is true, else null (the API records *whether*, not *when*,
someone attended); the primary (else first) of `person.email_addresses[].address`,
`person.phone_numbers[].number`, `person.postal_addresses[].postal_code`; `person.given_name`,
`person.family_name`; `referrer.utm_source`; `van_id` from a custom signup field named "VAN ID"
(see `flows.events.simulator`; a value that is not a positive integer is ignored, counted, and
the row lands with `van_id` null). `_partition` is the date of `timeslot_start` in the load's
time zone (`EVENTS_TIMEZONE`, default UTC).

Values land as sent (trimming, case and phone formats are dbt's job); empty strings become
NULL and NUL characters are dropped (Postgres text cannot hold them). A record without a usable
`id`, `event.id` or `timeslot.start_date`, or with a field of the wrong JSON type, is rejected
with a reason and a reference that holds no personal data (`attendance 123`, or `page 3 item 7`
when the id itself is missing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

__all__ = [
    "EVENT_ATTENDANCES_COLUMNS",
    "DATA_COLUMNS",
    "AttendanceRow",
    "Rejected",
    "parse_attendance",
]

EVENT_ATTENDANCES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("attendance_id", "bigint"),
    ("event_id", "bigint"),
    ("event_title", "text"),
    ("timeslot_start", "timestamptz"),
    ("attended_at", "timestamptz"),
    ("email", "text"),
    ("phone", "text"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("zip", "text"),
    ("van_id", "bigint"),
    ("utm_source", "text"),
    ("_loaded_at", "timestamptz"),
    ("_source_page", "text"),
    ("_load_id", "text"),
    ("_partition", "date"),
)
# The columns that come from the record (the rest is load metadata).
DATA_COLUMNS: tuple[str, ...] = tuple(n for n, _ in EVENT_ATTENDANCES_COLUMNS if not n.startswith("_"))

_VAN_FIELD_NAMES = frozenset({"vanid", "van id", "van_id", "van-id"})
_MAX_BIGINT = 2**63 - 1
_MAX_UNIX = 4102444800  # 2100-01-01: anything later is not a real timeslot


class _Reject(Exception):
    pass


@dataclass(frozen=True)
class AttendanceRow:
    attendance_id: int
    event_id: int
    event_title: str | None
    timeslot_start: dt.datetime
    attended_at: dt.datetime | None
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    zip: str | None
    van_id: int | None
    utm_source: str | None
    partition: dt.date
    modified_date: int | None  # the API's modified_date: the newest version wins a duplicate
    van_id_ignored: bool = False

    def values(self) -> tuple[Any, ...]:
        """Values of `DATA_COLUMNS`, in order."""
        return tuple(getattr(self, name) for name in DATA_COLUMNS)


@dataclass(frozen=True)
class Rejected:
    record: str  # a reference without personal data
    reason: str
    partition: dt.date | None = None  # when the timeslot could still be read


def _int(value: Any, what: str, *, required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            raise _Reject(f"no {what}")
        return None
    if isinstance(value, bool):
        raise _Reject(f"{what} is not an integer")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 0 < value <= _MAX_BIGINT:
        raise _Reject(f"{what} is not a positive integer")
    return value


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Reject(f"{what} has an unexpected type")
    text = str(value).replace("\x00", "")
    return text if text.strip() else None


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Reject(f"{what} is not an object")
    return value


def _primary(items: Any, key: str, what: str) -> str | None:
    """The primary entry's `key` of a list like `email_addresses`, else the first one's."""
    if items is None:
        return None
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise _Reject(f"{what} is not a list")
    entries = [_obj(i, what) for i in items]
    chosen = next((e for e in entries if e.get("primary") is True), entries[0] if entries else None)
    return _text(chosen.get(key), what) if chosen else None


def _van_id(fields: Any) -> tuple[int | None, bool]:
    """(van_id, ignored): a "VAN ID" custom field that holds a positive integer."""
    if not isinstance(fields, Sequence) or isinstance(fields, str):
        return None, False
    for item in fields:
        if not isinstance(item, Mapping):
            continue
        if str(item.get("custom_field_name", "")).strip().lower() in _VAN_FIELD_NAMES:
            raw = item.get("text_value")
            text = str(raw).strip() if raw is not None and not isinstance(raw, bool) else ""
            if text.isdigit() and 0 < int(text) <= _MAX_BIGINT:
                return int(text), False
            return None, bool(text)
    return None, False


def parse_attendance(
    record: Any, *, page: int, index: int, tz: dt.tzinfo = dt.timezone.utc
) -> AttendanceRow | Rejected:
    """One record (item `index`, 0-based, of page `page`) as a row, or why it was rejected."""
    ref = f"page {page} item {index}"
    partition: dt.date | None = None
    try:
        rec = _obj(record, "the record")
        if not rec:
            raise _Reject("empty record")
        attendance_id = _int(rec.get("id"), "attendance id")
        ref = f"attendance {attendance_id}"
        slot = _obj(rec.get("timeslot"), "timeslot")
        start_unix = _int(slot.get("start_date"), "timeslot start_date")
        assert start_unix is not None
        if start_unix >= _MAX_UNIX:
            raise _Reject("timeslot start_date is out of range")
        start = dt.datetime.fromtimestamp(start_unix, tz=dt.timezone.utc)
        partition = start.astimezone(tz).date()
        event = _obj(rec.get("event"), "event")
        event_id = _int(event.get("id"), "event id")
        person = _obj(rec.get("person"), "person")
        referrer = _obj(rec.get("referrer"), "referrer")
        attended = rec.get("attended")
        if attended is not None and not isinstance(attended, bool):
            raise _Reject("attended is not true, false or null")
        van_id, van_ignored = _van_id(rec.get("custom_signup_field_values"))
        modified = rec.get("modified_date")
        return AttendanceRow(
            attendance_id=attendance_id,  # type: ignore[arg-type]
            event_id=event_id,  # type: ignore[arg-type]
            event_title=_text(event.get("title"), "event title"),
            timeslot_start=start,
            attended_at=start if attended is True else None,
            email=_primary(person.get("email_addresses"), "address", "email_addresses"),
            phone=_primary(person.get("phone_numbers"), "number", "phone_numbers"),
            first_name=_text(person.get("given_name"), "given_name"),
            last_name=_text(person.get("family_name"), "family_name"),
            zip=_primary(person.get("postal_addresses"), "postal_code", "postal_addresses"),
            van_id=van_id,
            utm_source=_text(referrer.get("utm_source"), "utm_source"),
            partition=partition,
            modified_date=modified if isinstance(modified, int) and not isinstance(modified, bool) else None,
            van_id_ignored=van_ignored,
        )
    except _Reject as exc:
        return Rejected(record=ref, reason=str(exc), partition=partition)
