"""Fixtures for the dbt project's tests: a module-scoped database and a dbt runner.

The shared `warehouse` fixture is per test; a dbt build costs seconds, so these tests share one
database (and one build) per module instead. Nothing is mocked: real Postgres, real dbt.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Sequence

import psycopg2
import pytest

from tests.conftest import REPO

PROJECT_DIR = REPO / "dbt_project"
PROFILES_DIR = REPO / "profiles"
DBT = str(Path(sys.executable).with_name("dbt"))


@dataclasses.dataclass
class DbtResult:
    args: tuple[str, ...]
    returncode: int
    output: str
    run_results: dict[str, Any]

    def node(self, name: str) -> dict[str, Any]:
        """The run result of the node whose unique_id ends with `.name`."""
        for result in self.run_results.get("results", []):
            if result["unique_id"].split(".")[-1] == name:
                return result
        raise KeyError(f"{name} not in run_results ({self.args})")

    def rows_affected(self, name: str) -> int:
        return int(self.node(name)["adapter_response"]["rows_affected"])


class DbtRunner:
    """Runs dbt as a subprocess against one database, artifacts in a private target dir."""

    def __init__(self, warehouse, work_dir: Path, project_dir: Path = PROJECT_DIR) -> None:
        self.warehouse = warehouse
        self.project_dir = project_dir
        self.target_path = work_dir / "target"
        self.log_path = work_dir / "logs"

    def __call__(self, *args: str, check: bool = True) -> DbtResult:
        env = {
            **os.environ,
            **self.warehouse.dbt_env(),
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_VERSION_CHECK": "false",
            "DBT_USE_COLORS": "false",
        }
        cmd = [
            DBT, *args,
            "--project-dir", str(self.project_dir),
            "--profiles-dir", str(PROFILES_DIR),
            "--target", "dev",
            "--target-path", str(self.target_path),
            "--log-path", str(self.log_path),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        results_file = self.target_path / "run_results.json"
        run_results = json.loads(results_file.read_text()) if results_file.exists() else {}
        result = DbtResult(tuple(args), proc.returncode, proc.stdout + proc.stderr, run_results)
        if check and proc.returncode != 0:
            pytest.fail(f"dbt {' '.join(args)} failed ({proc.returncode}):\n{result.output[-4000:]}")
        return result


class Db:
    """A tiny psycopg2 helper: autocommit, `execute` and `rows`."""

    def __init__(self, warehouse) -> None:
        self.conn = psycopg2.connect(**warehouse.dsn_kwargs())
        self.conn.autocommit = True

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="module")
def module_warehouse(pg_server):
    """A fresh database on the session server for one test module (dropped afterwards)."""
    name = "dbt_" + uuid.uuid4().hex[:12]
    admin = psycopg2.connect(**pg_server.dsn_kwargs())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    try:
        yield dataclasses.replace(pg_server, dbname=name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()
