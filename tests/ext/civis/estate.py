"""A small Civis estate for the tests, and the fake API serving it (imported by the test modules;
no conftest.py, so the import helper's tests can add their own without a merge conflict).

More SQL scripts than one API page (50), every kind, archived objects of each kind, and secret
values typed into places a real estate has them: the tests check none reaches an export.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from assetgraph.ext.civis.fake import FakeCivis

SECRET = "S3cr3t-Value-9f2c"  # must never appear in an export, a report or the console
N_SQL = 55  # > one page of 50


def _schedule(on: bool = True) -> dict[str, Any]:
    return {
        "scheduled": on, "scheduledDays": [1, 2, 3, 4, 5], "scheduledHours": [6],
        "scheduledMinutes": [30], "scheduledRunsPerHour": None, "scheduledDaysOfMonth": [],
    }


def _author() -> dict[str, Any]:
    return {"id": 7, "name": "Ana Analyst", "username": "ana", "initials": "AA", "online": False}


def sql_script(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": 1000 + i,
        "name": f"daily rollup {i}",
        "createdAt": "2023-03-01T10:00:00.000Z",
        "updatedAt": f"2024-05-{1 + i % 28:02d}T08:00:00.000Z",
        "author": _author(),
        "state": "succeeded",
        "params": [],
        "arguments": {},
        "schedule": _schedule(),
        "timeZone": "America/Chicago",
        "sql": f"DROP TABLE IF EXISTS reporting.rollup_{i};\nCREATE TABLE reporting.rollup_{i} AS SELECT {i} AS n;",
        "remoteHostId": 32,
        "credentialId": 901,
        **extra,
    }


def estate() -> dict[str, list[dict[str, Any]]]:
    sql = [sql_script(i) for i in range(N_SQL)]
    sql.append(sql_script(
        90, name="unload to s3",
        sql=(
            "UNLOAD ('select * from reporting.rollup_1') TO 's3://bucket/x_'\n"
            f"CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key={SECRET}';"
        ),
        arguments={"DB_PASSWORD": SECRET, "REDSHIFT": 901},
    ))
    sql.append(sql_script(91, name="old archived script", archived="true"))
    python3 = [
        {
            "id": 2001, "name": "Sync VAN contacts", "author": _author(), "schedule": _schedule(),
            "timeZone": "America/New_York",
            "params": [{"name": "VAN", "label": "VAN", "type": "credential_custom", "required": True}],
            "arguments": {"VAN": 555},
            "source": (
                "import os\nfrom parsons import VAN\n"
                "van = VAN(api_key=os.environ['VAN_PASSWORD'], db='MyVoters')\n"
                f'API_TOKEN = "{SECRET}"\nprint("done")\n'
            ),
            "dockerImageTag": "latest",
        },
        {"id": 2002, "name": "archived python", "archived": "true", "source": "print(1)"},
    ]
    containers = [
        {
            "id": 3001, "name": "dbt-like container", "schedule": _schedule(False),
            "dockerImageName": "civisanalytics/datascience-python", "dockerImageTag": "7.0",
            "dockerCommand": f"export VAN_API_KEY={SECRET} && python run.py",
            "repoHttpUri": "github.com/example/repo", "repoRef": "main", "gitCredentialId": 77,
        },
        {"id": 3002, "name": "archived container", "archived": "true"},
    ]
    workflows = [
        {
            "id": 4001, "name": "nightly", "schedule": _schedule(), "timeZone": "America/Chicago",
            "definition": (
                "version: '2.0'\nworkflow:\n  tasks:\n    rollup:\n      action: civis.run_job\n"
                "      input:\n        job_id: 1001\n      on-success:\n        - van\n"
                "    van:\n      action: civis.run_job\n      input:\n        job_id: 2001\n"
            ),
        },
        {"id": 4002, "name": "archived workflow", "archived": "true", "definition": "version: '2.0'"},
    ]
    imports = [
        {
            "id": 5001, "name": "Dbsync of people", "syncType": "Dbsync", "isOutbound": False,
            "schedule": _schedule(),
            "source": {"remoteHostId": 12, "credentialId": 13, "additionalCredentials": [], "name": "mysql",
                       "password": SECRET},
            "destination": {"remoteHostId": 32, "credentialId": 901, "additionalCredentials": [], "name": "redshift"},
            "syncs": [{"id": 1, "source": {"path": "crm.people"}, "destination": {"path": "raw.people"},
                       "advancedOptions": {}}],
        },
        {"id": 5002, "name": "archived import", "archived": "true", "syncType": "GdocImport", "isOutbound": False},
    ]
    return {"sql": sql, "python3": python3, "containers": containers, "workflows": workflows, "imports": imports}


# what an export without --include-archived writes, per kind
LIVE_COUNTS = {"sql": N_SQL + 1, "python3": 1, "containers": 1, "workflows": 1, "imports": 1}


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_civis() -> Iterator[FakeCivis]:
    with FakeCivis(estate(), api_key="test-key-" + "x" * 8) as fake:
        yield fake


# ---- a migration report and verify results, written the way import and verify will --------
def report_objects() -> list[dict[str, Any]]:
    def obj(kind: str, object_id: int, name: str, keys: list[str], attention: list[str] | None = None) -> dict[str, Any]:
        return {"type": kind, "id": object_id, "name": name, "became": "dbt model", "keys": keys,
                "schedule": _schedule(), "needs_attention": attention or []}

    return [
        obj("sql", 1001, "daily rollup 1", ["reporting/rollup_1"]),  # verified
        obj("sql", 1002, "daily rollup 2", ["reporting/rollup_2"]),  # verify failed
        obj("sql", 1003, "daily rollup 3", ["reporting/rollup_3"]),  # never verified
        obj("sql", 1004, "daily rollup 4", ["reporting/rollup_4", "reporting/rollup_4b"]),  # both pass (latest)
        obj("sql", 1005, "daily rollup 5", ["reporting/rollup_5"]),  # passed, then failed
        obj("sql", 1006, "daily rollup 6", ["reporting/rollup_6"]),  # only some other check passed
        obj("sql", 1090, "unload to s3", [], ["UNLOAD cannot be a dbt model; kept as an operation"]),
        obj("python3", 2001, "Sync VAN contacts", ["civis/sync_van_contacts"]),
        obj("container", 3001, "dbt-like container", ["civis/dbt_like_container"]),  # schedule already off
        obj("workflow", 4001, "nightly", ["reporting/rollup_1", "civis/sync_van_contacts"]),
        obj("import", 5001, "Dbsync of people", ["raw/people"]),
    ]


# (key, status) in the order verify recorded them; the latest per key wins
PARITY_HISTORY = [
    ("reporting/rollup_1", "passed"),
    ("reporting/rollup_2", "failed"),
    ("reporting/rollup_4", "passed"),
    ("reporting/rollup_4b", "failed"),
    ("reporting/rollup_4b", "passed"),
    ("reporting/rollup_5", "passed"),
    ("reporting/rollup_5", "failed"),
    ("civis/sync_van_contacts", "passed"),
    ("civis/dbt_like_container", "passed"),
    ("raw/people", "passed"),
]
ELIGIBLE = {("sql", 1001), ("sql", 1004), ("python3", 2001), ("containers", 3001), ("workflows", 4001), ("imports", 5001)}


def write_report(project_root, objects: list[dict[str, Any]] | None = None) -> None:
    import json

    path = project_root / "reports" / "civis-migration.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"objects": report_objects() if objects is None else objects}, indent=2))


def record_parity(warehouse, history=PARITY_HISTORY) -> None:
    from assetgraph import catalog

    catalog.ensure_catalog(warehouse)
    for i, (key, status) in enumerate(history):
        catalog.record_check(
            warehouse, run_id=f"verify-{i}", asset_key=key, check_name="civis_parity", partition_key=None,
            source="civis", blocking=True, status=status, message="",
        )
    # a different check passing is no proof of parity
    catalog.record_check(
        warehouse, run_id="dbt-1", asset_key="reporting/rollup_6", check_name="not_null_id", partition_key=None,
        source="dbt", blocking=True, status="passed",
    )
