"""Raw tables as the extraction flows and the sync land them (the source contracts), and small
hand-made rows whose expected outcome is known."""

from __future__ import annotations

RAW_DDL = """
create schema if not exists raw;
create schema if not exists sync;
create table raw.signups (
    submission_id text, form_id text, submitted_at timestamptz, first_name text,
    last_name text, email text, phone text, zip text, van_id bigint, utm_source text,
    utm_medium text, utm_campaign text, _loaded_at timestamptz, _source_file text,
    _source_line integer, _load_id text, _partition date
);
create table raw.event_attendances (
    attendance_id bigint, event_id bigint, event_title text, timeslot_start timestamptz,
    attended_at timestamptz, email text, phone text, first_name text, last_name text,
    zip text, van_id bigint, utm_source text, _loaded_at timestamptz, _source_page text,
    _load_id text, _partition date
);
create table sync.van_sync_ledger (
    van_id bigint, source_code_id integer, status varchar(32), attempted_at timestamptz
);
"""

NIGHT_1 = "2026-11-02 02:00:00+00"
NIGHT_2 = "2026-11-03 02:00:00+00"

SIGNUP_COLUMNS = (
    "submission_id", "form_id", "submitted_at", "first_name", "last_name", "email", "phone",
    "zip", "van_id", "utm_source", "_loaded_at", "_source_file", "_source_line", "_load_id",
    "_partition",
)
# (submission_id, form_id, submitted_at, first, last, email, phone, zip, van_id, utm_source,
#  _loaded_at)
SIGNUPS = [
    # Ana: messy email and phone; her submission lands twice (overlapping exports)
    ("s1", "petition-climate-2026", "2026-11-01 10:00+00", " Ana ", "Rivera",
     "  Ana.Rivera@Example.ORG ", "+1 (202) 555-0143", "2134", 1001, "Facebook", NIGHT_1),
    ("s1", "petition-climate-2026", "2026-11-01 10:00+00", "Ana", "Rivera",
     "ana.rivera@example.org", "2025550143", "02134", 1001, "facebook", NIGHT_2),
    # Ana again later with another form: her first touch stays the petition
    ("s8", "volunteer-signup", "2026-11-01 18:00+00", "Ana", "Rivera",
     "ana.rivera@example.org", "202-555-0143", "02134", 1001, None, NIGHT_1),
    # unmapped form, mapped utm_source -> utm code
    ("s2", "newsletter", "2026-11-01 11:00+00", "Marcus", "Okafor",
     "marcus@example.com", "312 555 0101", "60601", 1002, "Google", NIGHT_1),
    # unmapped form, no utm_source -> default code
    ("s3", "newsletter", "2026-11-01 12:00+00", "Priya", "Patel",
     "priya@example.net", "415.555.0102", "94103", 1003, "  ", NIGHT_1),
    # already applied in the ledger -> excluded
    ("s4", "volunteer-signup", "2026-11-01 13:00+00", "José", "García",
     "jose@example.org", "5125550103", "73301", 1004, None, NIGHT_1),
    # only a failed attempt in the ledger -> still assigned
    ("s5", "volunteer-signup", "2026-11-01 14:00+00", "Keisha", "Washington",
     "keisha@example.org", "6145550104", "43004", 1005, None, NIGHT_1),
    # no VAN ID: not a person to sync
    ("s6", "petition-climate-2026", "2026-11-01 15:00+00", "Omar", "Haddad",
     "omar@example.com", "617-555-0105", "02108", None, None, NIGHT_1),
    # Mei signs up after an event she attended without a VAN ID (matched by email)
    ("s7", "newsletter", "2026-11-03 09:00+00", "Mei", "Tanaka",
     "mei@example.net", "720 555 0106", "80202", 1006, "sms", NIGHT_1),
]

ATTENDANCE_COLUMNS = (
    "attendance_id", "event_id", "event_title", "timeslot_start", "attended_at", "email",
    "phone", "first_name", "last_name", "zip", "van_id", "utm_source", "_loaded_at",
    "_source_page", "_load_id", "_partition",
)
# (attendance_id, event_id, attended_at, email, van_id, utm_source, _loaded_at, _source_page)
ATTENDANCES = [
    # Mei: no VAN ID from the events API; matched through her signup's email
    (9001, 77, "2026-11-02 18:30+00", " Mei@Example.NET", None, "instagram", NIGHT_1, "p1"),
    # the same attendance on two pages
    (9001, 77, "2026-11-02 18:30+00", " Mei@Example.NET", None, "instagram", NIGHT_1, "p2"),
    # known VAN ID, no utm -> default code
    (9002, 77, "2026-11-02 18:40+00", "grace@example.org", 1007, None, NIGHT_1, "p1"),
    # registered but never checked in: no touch
    (9003, 78, None, "liam@example.org", 1008, "facebook", NIGHT_1, "p1"),
    # attendee nobody can match: no touch
    (9004, 78, "2026-11-02 19:00+00", "nobody@example.com", None, "facebook", NIGHT_1, "p1"),
]

LEDGER = [
    (1004, 100102, "applied", "2026-11-02 03:00+00"),
    (1005, 100102, "failed", "2026-11-02 03:00+00"),
]

# van_id -> (source_code_id, matched_on, first_touch_channel)
EXPECTED_ASSIGNMENTS = {
    1001: (100101, "form_id", "form"),
    1002: (100203, "utm_source", "form"),
    1003: (100001, "default", "form"),
    1005: (100102, "form_id", "form"),
    1006: (100202, "utm_source", "event"),
    1007: (100001, "default", "event"),
}


def insert_signups(db, rows) -> None:
    for i, (sid, form, at, first, last, email, phone, zip_, van, utm, loaded) in enumerate(rows):
        db.execute(
            f"insert into raw.signups ({', '.join(SIGNUP_COLUMNS)}) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::timestamptz::date)",
            (sid, form, at, first, last, email, phone, zip_, van, utm, loaded,
             f"signups_{loaded[:10]}.csv", i + 2, f"load-{loaded[:10]}", at),
        )


def insert_attendances(db, rows) -> None:
    for att, event, attended, email, van, utm, loaded, page in rows:
        db.execute(
            f"insert into raw.event_attendances ({', '.join(ATTENDANCE_COLUMNS)}) values "
            "(%s, %s, 'Town hall', %s, %s, %s, null, null, null, null, %s, %s, %s, %s, %s,"
            " %s::timestamptz::date)",
            (att, event, attended or "2026-11-02 18:00+00", attended, email, van, utm, loaded,
             page, f"load-{loaded[:10]}", loaded),
        )


def insert_ledger(db, rows) -> None:
    for row in rows:
        db.execute("insert into sync.van_sync_ledger values (%s, %s, %s, %s)", row)
