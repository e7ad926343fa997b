"""The fake Civis API's own contract, through the real civis-python client where it can be."""

from __future__ import annotations

import json

import pytest
import requests

from assetgraph.ext.civis._client import connect
from assetgraph.ext.civis.fake import FakeCivis


def _estate(n: int = 7) -> dict:
    return {
        "sql": [{"id": i, "name": f"s{i:02d}", "updatedAt": f"2024-01-{i:02d}T00:00:00.000Z", "sql": "select 1",
                 "schedule": {"scheduled": True, "scheduledHours": [3]}} for i in range(1, n + 1)]
        + [{"id": 99, "name": "gone", "archived": "true", "sql": "select 2"}],
        "workflows": [{"id": 5, "name": "wf", "definition": "version: '2.0'"}],
    }


def test_list_pages_summaries_and_headers():
    with FakeCivis(_estate()) as fake:
        auth = (fake.api_key, "")
        page = requests.get(f"{fake.url}scripts", params={"type": "sql", "limit": 3, "page_num": 3}, auth=auth, timeout=30)
        assert page.status_code == 200
        assert [o["id"] for o in page.json()] == [1]  # newest updatedAt first: 7..5, 4..2, 1
        assert page.headers["X-Pagination-Total-Entries"] == "7"
        assert page.headers["X-Pagination-Total-Pages"] == "3"
        assert "sql" not in page.json()[0] and "schedule" not in page.json()[0]  # summaries only
        past = requests.get(f"{fake.url}scripts", params={"type": "sql", "limit": 3, "page_num": 4}, auth=auth, timeout=30)
        assert past.json() == []
        big = requests.get(f"{fake.url}scripts", params={"limit": 500}, auth=auth, timeout=30)
        assert big.headers["X-Pagination-Per-Page"] == "50"
        archived = requests.get(f"{fake.url}scripts", params={"archived": "true"}, auth=auth, timeout=30)
        assert [o["id"] for o in archived.json()] == [99]
        by_name = requests.get(f"{fake.url}scripts", params={"order": "name", "order_dir": "asc", "archived": "all"},
                               auth=auth, timeout=30)
        assert [o["name"] for o in by_name.json()][:2] == ["gone", "s01"]


def test_the_real_client_reads_updates_and_archives():
    with FakeCivis(_estate()) as fake:
        client = connect(fake.env()).client
        assert [o["id"] for o in client.scripts.list(type="sql", limit=2, iterator=True)] == [7, 6, 5, 4, 3, 2, 1]
        assert client.scripts.get_sql(3).json()["name"] == "s03"
        client.scripts.patch_sql(3, schedule={"scheduled": False})
        assert fake.get("sql", 3)["schedule"] == {"scheduled": False, "scheduledHours": [3]}  # merged
        client.workflows.put_archive(5, status=True)
        assert fake.get("workflows", 5)["archived"] == "true"
        assert list(client.workflows.list(iterator=True)) == []  # archived are listed only on request
        log = [(r.method, r.path) for r in fake.requests]
        assert ("GET", "/endpoints") in log and ("PATCH", "/scripts/sql/3") in log and ("PUT", "/workflows/5/archive") in log


def test_errors_look_like_the_api():
    with FakeCivis(_estate()) as fake:
        no_key = requests.get(f"{fake.url}scripts/sql/1", timeout=30)
        assert no_key.status_code == 401 and "WWW-Authenticate" in no_key.headers
        auth = (fake.api_key, "")
        missing = requests.get(f"{fake.url}scripts/sql/12345", auth=auth, timeout=30)
        assert missing.status_code == 404 and missing.json()["errorDescription"]
        wrong_kind = requests.get(f"{fake.url}scripts/python3/1", auth=auth, timeout=30)
        assert wrong_kind.status_code == 404
        bad = requests.put(f"{fake.url}scripts/sql/1/archive", json={"status": "yes"}, auth=auth, timeout=30)
        assert bad.status_code == 400
        fake.inject(429, times=1, retry_after=7, path_prefix="/workflows")
        throttled = requests.get(f"{fake.url}workflows/5", auth=auth, timeout=30)
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
        assert requests.get(f"{fake.url}workflows/5", auth=auth, timeout=30).status_code == 200
        # the key is never logged
        assert fake.api_key not in json.dumps([r.__dict__ for r in fake.requests])


def test_seeding_checks_its_input():
    with pytest.raises(ValueError, match="unknown Civis object kind"):
        FakeCivis({"reports": [{"id": 1}]})
    with pytest.raises(ValueError, match="integer id"):
        FakeCivis({"sql": [{"id": "1"}]})
