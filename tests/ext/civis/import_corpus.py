"""A Civis estate written by hand for the import tests: the API's own JSON bodies
(`GET /scripts/sql/{id}` etc., field names from the Civis API spec), one file per object.

The SQL is Redshift as Civis users write it. `EXPECTED` says what each object must become.
`RAW_TABLES` are what the Civis import (Dbsync) lands: the tests create them as "live" data.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

AUTHOR = {"id": 7, "name": "Dana Organizer", "username": "dorganizer", "initials": "DO", "online": False}


def _schedule(days=(), hours=(), minutes=(), runs_per_hour=None, days_of_month=(), scheduled=True):
    return {"scheduled": scheduled, "scheduledDays": list(days), "scheduledHours": list(hours),
            "scheduledMinutes": list(minutes), "scheduledRunsPerHour": runs_per_hour,
            "scheduledDaysOfMonth": list(days_of_month)}


UNSCHEDULED = _schedule(scheduled=False)


def sql_script(id_: int, name: str, sql: str, schedule=UNSCHEDULED, tz="America/Chicago") -> dict[str, Any]:
    return {
        "id": id_, "name": name, "type": "JobTypes::SqlRunner", "createdAt": "2022-03-01T10:00:00.000Z",
        "updatedAt": "2024-11-02T08:15:00.000Z", "author": AUTHOR, "state": "succeeded",
        "finishedAt": "2024-11-20T11:31:00.000Z", "category": "script", "projects": [], "parentId": None,
        "userContext": "runner", "params": [], "arguments": {}, "isTemplate": False,
        "publishedAsTemplateId": None, "fromTemplateId": None, "templateDependentsCount": None,
        "templateScriptName": None, "links": {"details": f"api/scripts/sql/{id_}", "runs": f"api/scripts/sql/{id_}/runs"},
        "schedule": schedule, "notifications": {"urls": [], "successEmailSubject": None, "failureOn": True},
        "runningAs": AUTHOR, "runningAsId": 7, "nextRunAt": None, "timeZone": tz, "lastRun": None,
        "myPermissionLevel": "manage", "hidden": False, "targetProjectId": None, "archived": False,
        "sql": sql, "expandedArguments": {}, "remoteHostId": 3, "credentialId": 42,
        "codePreview": sql[:120], "csvSettings": {},
    }


def python_script(id_: int, name: str, source: str, params=(), arguments=None, schedule=UNSCHEDULED,
                  tz="America/New_York") -> dict[str, Any]:
    body = sql_script(id_, name, "", schedule, tz)
    for k in ("sql", "expandedArguments", "remoteHostId", "credentialId", "codePreview", "csvSettings"):
        body.pop(k)
    body.update({"type": "JobTypes::PythonDocker", "source": source, "params": list(params),
                 "arguments": arguments or {}, "dockerImageTag": "latest", "instanceType": None,
                 "cancelTimeout": 0, "partitionLabel": None, "requiredResources": {"cpu": 1024, "memory": 3000},
                 "links": {"details": f"api/scripts/python3/{id_}"}})
    return body


def container_script(id_: int, name: str) -> dict[str, Any]:
    body = python_script(id_, name, "")
    body.pop("source")
    body.update({"type": "JobTypes::ContainerDocker", "dockerImageName": "civisanalytics/datascience-python",
                 "dockerImageTag": "7.1.0", "dockerCommand": "python /app/score_people.py --model latest",
                 "repoHttpUri": "github.com/example-org/scoring", "repoRef": "main", "gitCredentialId": None,
                 "remoteHostCredentialId": None, "fromTemplateAliases": []})
    return body


SQL = {
    101: ("Daily signups rollup", """\
-- Nightly rollup of web signups (last 30 days), used by the field dashboard.
DROP TABLE IF EXISTS analytics.daily_signups;
CREATE TABLE analytics.daily_signups
DISTKEY(signup_date)
SORTKEY(signup_date, signup_source)
AS
SELECT created_at::date AS signup_date,
       NVL(source, 'unknown') AS signup_source,
       COUNT(*) AS signups
FROM raw.signups
WHERE email ILIKE '%@%'  -- drop obviously broken rows
  AND created_at >= DATEADD(day, -3650, GETDATE())
GROUP BY 1, 2;
""", _schedule(days=[1, 2, 3, 4, 5], hours=[6], minutes=[30])),
    102: ("People table", """\
CREATE TABLE IF NOT EXISTS analytics.people (
    person_id INTEGER NOT NULL PRIMARY KEY,
    email VARCHAR(256),
    first_name VARCHAR(100)
) DISTSTYLE ALL;
TRUNCATE analytics.people;
INSERT INTO analytics.people (person_id, email, first_name)
SELECT id, LOWER(TRIM(email)), INITCAP(first_name)
FROM raw.signups;
""", UNSCHEDULED),
    103: ("Event counts (delete + insert)", """\
BEGIN;
DELETE FROM analytics.event_counts;
INSERT INTO analytics.event_counts
SELECT p.person_id,
       e.event_type,
       COUNT(*) AS events,
       MAX(e.attended_at) AS last_attended_at
FROM analytics.people p
JOIN raw.events e ON e.person_id = p.person_id
GROUP BY p.person_id, e.event_type;
COMMIT;
""", UNSCHEDULED),
    104: ("Donor totals", """\
TRUNCATE analytics.donor_totals;
INSERT INTO analytics.donor_totals
SELECT person_id, SUM(amount)::decimal(12, 2) AS total_amount, COUNT(*) AS gifts
FROM raw.donations
GROUP BY person_id;
""", _schedule(days_of_month=[1, 15], hours=[3], minutes=[0])),
    105: ("Engaged people (temp tables)", """\
/* Who came to an event and gave money, with a rank by gift total. */
CREATE TEMP TABLE recent_events AS
SELECT person_id, COUNT(*) AS n_events
FROM raw.events
GROUP BY person_id;

SELECT person_id, SUM(amount) AS given INTO TEMP TABLE donors FROM raw.donations GROUP BY person_id;

DROP TABLE IF EXISTS analytics.engaged_people;
CREATE TABLE analytics.engaged_people AS
SELECT r.person_id, r.n_events, d.given,
       RANK() OVER (ORDER BY d.given DESC) AS giving_rank
FROM recent_events r
JOIN donors d ON d.person_id = r.person_id;
""", UNSCHEDULED),
    106: ("Source summary with grants", """\
DROP TABLE IF EXISTS analytics.source_summary;
CREATE TABLE analytics.source_summary AS
SELECT source, COUNT(DISTINCT id) AS people
FROM raw.signups
WHERE source IS NOT NULL
GROUP BY source;
GRANT SELECT ON analytics.source_summary TO GROUP analysts;
GRANT SELECT ON analytics.source_summary TO reporting_user;
""", UNSCHEDULED),
    107: ("First touch (quoted identifiers, windows)", """\
DROP TABLE IF EXISTS "analytics"."first_touch";
CREATE TABLE "analytics"."first_touch" AS
SELECT "person_id", "Source" AS first_source, "touched_at"
FROM (
    SELECT id AS "person_id", source AS "Source", created_at AS "touched_at",
           ROW_NUMBER() OVER (PARTITION BY id ORDER BY created_at ASC) AS rn
    FROM raw.signups
) AS ranked
WHERE rn = 1;
""", UNSCHEDULED),
    108: ("Donor export to S3", """\
DROP TABLE IF EXISTS analytics.big_donors;
CREATE TABLE analytics.big_donors AS
SELECT person_id, total_amount FROM analytics.donor_totals WHERE total_amount >= 100;
UNLOAD ('select * from analytics.big_donors') TO 's3://example-bucket/big_donors_'
IAM_ROLE 'arn:aws:iam::123456789012:role/civis-unload' CSV HEADER ALLOWOVERWRITE;
""", UNSCHEDULED),
    109: ("Vendor list load", """\
TRUNCATE raw.vendor_list;
COPY raw.vendor_list FROM 's3://example-bucket/vendors.csv'
IAM_ROLE 'arn:aws:iam::123456789012:role/civis-copy' CSV IGNOREHEADER 1;
""", UNSCHEDULED),
    110: ("Refresh via procedure", "CALL analytics.refresh_turf_assignments(2024);\n",
          _schedule(hours=[4], minutes=[45])),
    111: ("Dynamic partition swap", """\
EXECUTE 'ALTER TABLE analytics.partitions_' || TO_CHAR(GETDATE(), 'YYYYMM') || ' OWNER TO etl';
""", UNSCHEDULED),
    112: ("Table then patch (unsplittable)", """\
DROP TABLE IF EXISTS analytics.patched;
CREATE TABLE analytics.patched AS SELECT id, source FROM raw.signups;
UPDATE analytics.patched SET source = 'web' WHERE source IS NULL;
""", UNSCHEDULED),
    113: ("Donation recency", """\
DROP TABLE IF EXISTS analytics.donation_recency;
CREATE TABLE analytics.donation_recency AS
SELECT person_id,
       DATEDIFF(day, MAX(donated_at), GETDATE()) AS days_since_gift,
       DECODE(COUNT(*), 1, 'one-time', 'repeat') AS donor_kind
FROM raw.donations
GROUP BY person_id;
""", UNSCHEDULED),
    114: ("Two tables in one script", """\
DROP TABLE IF EXISTS analytics.vendor_people;
CREATE TABLE analytics.vendor_people AS
SELECT v.vendor_name, s.id AS person_id
FROM raw.vendor_list v JOIN raw.signups s ON s.source = v.vendor_code;
DROP TABLE IF EXISTS analytics.vendor_counts;
CREATE TABLE analytics.vendor_counts AS
SELECT vendor_name, COUNT(*) AS people FROM analytics.vendor_people GROUP BY vendor_name;
""", UNSCHEDULED),
    115: ("Active people view", """\
CREATE OR REPLACE VIEW analytics.active_people AS
SELECT person_id, email FROM analytics.people WHERE email IS NOT NULL;
""", UNSCHEDULED),
    116: ("Incremental events", """\
DELETE FROM analytics.recent_events WHERE attended_at >= DATEADD(day, -7, GETDATE());
INSERT INTO analytics.recent_events SELECT * FROM raw.events WHERE attended_at >= DATEADD(day, -7, GETDATE());
""", UNSCHEDULED),
}

PARSONS_SOURCE = """\
import os

from parsons import VAN, Table

# Push new signups into VAN. VAN_PASSWORD is the Civis credential's API key.
van = VAN(api_key=os.environ["VAN_PASSWORD"], db="MyVoters")
user = os.environ.get("VAN_USERNAME")
table_name = os.environ["SOURCE_TABLE"]
print("reading", table_name, "as", user)
people = Table([{"first_name": "Ada", "email": "ada@example.org"}])
for row in people:
    van.upsert_person(first_name=row["first_name"], email=row["email"])
print(f"pushed {people.num_rows} people")
"""

HELLO_SOURCE = """\
import os


def main():
    print("greeting", os.environ["GREETING"], "with", os.environ["SMTP_PASSWORD"][:0] + "secret")
    return 1


if __name__ == "__main__":
    main()
"""

PYTHON = {
    201: python_script(201, "Push signups to VAN", PARSONS_SOURCE,
                       params=[{"name": "SOURCE_TABLE", "label": "Source table", "type": "string",
                                "required": True, "default": None, "value": None, "description": None,
                                "allowedValues": []},
                               {"name": "VAN", "label": "VAN key", "type": "credential_custom",
                                "required": True, "default": None, "value": None, "description": None,
                                "allowedValues": []}],
                       arguments={"SOURCE_TABLE": "analytics.people", "VAN": 511}),
    202: python_script(202, "Hello hourly", HELLO_SOURCE,
                       params=[{"name": "GREETING", "label": "Greeting", "type": "string", "required": False,
                                "default": "hello", "value": None, "description": None, "allowedValues": []}],
                       schedule=_schedule(hours=list(range(9, 18)), runs_per_hour=4)),
}

WORKFLOW_DEFINITION = """\
version: '2.0'
nightly_fundraising:
  description: Donor totals, then the people rollups
  tasks:
    people:
      action: civis.run_job
      input:
        job_id: 102
      on-success:
        - donors
    donors:
      action: civis.run_job
      input:
        job_id: 104
      on-success:
        - engaged
    engaged:
      action: civis.run_job
      input:
        job_id: 105
"""


def workflow(id_: int, name: str, definition: str, schedule=UNSCHEDULED, tz="America/New_York") -> dict[str, Any]:
    return {"id": id_, "name": name, "description": None, "valid": True, "validationErrors": None,
            "fileId": "f-1", "user": AUTHOR, "state": "succeeded", "schedule": schedule, "allowConcurrentExecutions": False,
            "timeZone": tz, "nextExecutionAt": None, "notifications": {}, "archived": False, "hidden": False,
            "myPermissionLevel": "manage", "createdAt": "2023-01-01T00:00:00.000Z",
            "updatedAt": "2024-10-01T00:00:00.000Z", "definition": definition, "lastExecutionId": None}


def civis_import(id_: int, name: str, tables: list[str]) -> dict[str, Any]:
    return {
        "id": id_, "name": name, "syncType": "Dbsync", "isOutbound": False, "jobType": "JobTypes::Import",
        "source": {"remoteHostId": 12, "credentialId": 77, "additionalCredentials": [], "name": "Campaign CRM"},
        "destination": {"remoteHostId": 3, "credentialId": 42, "additionalCredentials": [], "name": "Redshift"},
        "schedule": _schedule(hours=[1], minutes=[0]), "timeZone": "America/Chicago", "parentId": None,
        "user": AUTHOR, "state": "succeeded", "createdAt": "2022-01-01T00:00:00.000Z",
        "updatedAt": "2024-01-01T00:00:00.000Z", "lastRun": None, "nextRunAt": None, "hidden": False,
        "archived": False, "myPermissionLevel": "manage", "notifications": {},
        "syncs": [
            {"id": 1000 + i, "source": {"databaseTable": {"schema": "crm", "table": t, "useWithoutSchema": False}},
             "destination": {"databaseTable": {"schema": "raw", "table": t, "useWithoutSchema": False}},
             "advancedOptions": {"existingTableRows": "drop", "maxErrors": None}}
            for i, t in enumerate(tables)
        ],
    }


OTHERS = {
    "scripts/containers/301.json": container_script(301, "Score people"),
    "workflows/401.json": workflow(401, "Nightly fundraising", WORKFLOW_DEFINITION,
                                   _schedule(days=[0], hours=[2], minutes=[15])),
    "imports/901.json": civis_import(901, "CRM to Redshift", ["signups", "events", "donations"]),
}

# What each object must become: model keys (`<schema>/<table>`), stub keys, attention or not.
EXPECTED: dict[int, dict[str, Any]] = {
    101: {"models": ["analytics/daily_signups"], "attention": False},
    102: {"models": ["analytics/people"], "attention": False},
    103: {"models": ["analytics/event_counts"], "attention": False},
    104: {"models": ["analytics/donor_totals"], "attention": False},
    105: {"models": ["analytics/engaged_people"], "attention": False},
    106: {"models": ["analytics/source_summary"], "attention": False},
    107: {"models": ["analytics/first_touch"], "attention": False},
    108: {"models": ["analytics/big_donors"], "stub": "civis/donor_export_to_s3", "attention": "UNLOAD"},
    109: {"models": [], "stub": "civis/vendor_list_load", "attention": "COPY"},
    110: {"models": [], "stub": "civis/refresh_via_procedure", "attention": "stored procedure"},
    111: {"models": [], "stub": "civis/dynamic_partition_swap", "attention": "dynamic SQL"},
    112: {"models": [], "stub": "civis/table_then_patch_unsplittable", "attention": "cannot split"},
    113: {"models": ["analytics/donation_recency"], "attention": False},
    114: {"models": ["analytics/vendor_people", "analytics/vendor_counts"], "attention": False},
    115: {"models": ["analytics/active_people"], "attention": False},
    116: {"models": [], "stub": "civis/incremental_events", "attention": "incremental"},
}

# Faithfully migrated models that build and compare on the embedded warehouse (the others use
# tables the test does not land, e.g. raw.vendor_list, or depend on the clock at build time).
VERIFIABLE = ["analytics/daily_signups", "analytics/people", "analytics/event_counts",
              "analytics/donor_totals", "analytics/engaged_people", "analytics/source_summary",
              "analytics/first_touch", "analytics/big_donors"]

RAW_TABLES = {
    "raw.signups": (
        "id integer, email varchar(256), first_name varchar(100), source varchar(64), created_at timestamp",
        [(1, " Ada@Example.org", "ada", "web", "2024-11-01 10:00:00"),
         (2, "grace@example.org", "grace", None, "2024-11-01 12:00:00"),
         (3, "broken-email", "linus", "vendor_a", "2024-11-02 09:00:00"),
         (4, "alan@example.org", "alan", "vendor_a", "2024-11-02 09:30:00"),
         (5, "edsger@example.org", "edsger", "web", "2024-11-03 08:00:00")],
    ),
    "raw.events": (
        "id integer, person_id integer, event_type varchar(64), attended_at timestamp",
        [(1, 1, "canvass", "2024-11-05 10:00:00"), (2, 1, "canvass", "2024-11-06 10:00:00"),
         (3, 2, "phonebank", "2024-11-05 18:00:00"), (4, 4, "canvass", "2024-11-07 10:00:00")],
    ),
    "raw.donations": (
        "id integer, person_id integer, amount decimal(12, 2), donated_at timestamp",
        [(1, 1, 50.00, "2024-10-01 00:00:00"), (2, 1, 75.00, "2024-10-15 00:00:00"),
         (3, 2, 10.00, "2024-10-20 00:00:00"), (4, 4, 250.00, "2024-11-01 00:00:00")],
    ),
}


def write_export(root: Path, *, sql_overrides: dict[int, str] | None = None) -> Path:
    """Write the corpus as an export directory (the layout `assetgraph civis export` writes)."""
    for id_, (name, sql, schedule) in SQL.items():
        text = (sql_overrides or {}).get(id_, sql)
        _dump(root / "scripts" / "sql" / f"{id_}.json", sql_script(id_, name, text, schedule))
    for id_, body in PYTHON.items():
        _dump(root / "scripts" / "python3" / f"{id_}.json", body)
    for rel, body in OTHERS.items():
        _dump(root / rel, copy.deepcopy(body))
    return root


def _dump(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2), encoding="utf-8")
