"""Locate a dbt project's manifest and keep it fresh. `dbt parse` runs in a subprocess only
when the manifest is missing or older than the project's files, so `assetgraph list` stays fast
and never imports dbt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from assetgraph.errors import DbtError

__all__ = ["manifest_path", "manifest_is_stale", "ensure_manifest", "dbt_executable", "dbt_env"]

_PROJECT_FILES = (".sql", ".yml", ".yaml", ".csv", ".py", ".md")
_SKIP_DIRS = {"target", "logs", "dbt_packages", "dbt_modules", ".venv"}

# Placeholder connection values: enough for dbt to render a profile during `parse`/`compile
# --no-introspect`, which never connect. Real values come from the warehouse at run time.
_PARSE_PLACEHOLDERS = {
    "WAREHOUSE_HOST": "localhost",
    "WAREHOUSE_PORT": "5432",
    "WAREHOUSE_USER": "parse",
    "WAREHOUSE_PASSWORD": "",
    "WAREHOUSE_DBNAME": "parse",
}


def manifest_path(project_dir: Path) -> Path:
    return project_dir / "target" / "manifest.json"


def _newest_source_mtime(project_dir: Path, profiles_dir: Path | None) -> float:
    newest = 0.0
    for dirpath, dirnames, filenames in os.walk(project_dir):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.endswith(_PROJECT_FILES):
                newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
    if profiles_dir is not None and (profiles_dir / "profiles.yml").is_file():
        newest = max(newest, (profiles_dir / "profiles.yml").stat().st_mtime)
    return newest


def manifest_is_stale(project_dir: Path, profiles_dir: Path | None = None) -> bool:
    path = manifest_path(project_dir)
    if not path.is_file():
        return True
    return _newest_source_mtime(project_dir, profiles_dir) > path.stat().st_mtime


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def dbt_env(extra: Mapping[str, str] | None = None, placeholders: bool = False) -> dict[str, str]:
    """Environment for a dbt subprocess: telemetry off, no version check, colour off."""
    env = dict(os.environ)
    if placeholders:
        for k, v in _PARSE_PLACEHOLDERS.items():
            env.setdefault(k, v)
    env.update(
        {
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_VERSION_CHECK": "false",
            "DBT_USE_COLORS": "false",
            "DBT_PRINTER_WIDTH": "120",
        }
    )
    if extra:
        env.update(extra)
    return env


def ensure_manifest(
    project_dir: Path, profiles_dir: Path, target: str, *, force: bool = False
) -> Path:
    """Return the manifest path, running `dbt parse` first if it is missing or stale."""
    path = manifest_path(project_dir)
    if force or manifest_is_stale(project_dir, profiles_dir):
        cmd = [
            dbt_executable(),
            "parse",
            "--project-dir", str(project_dir),
            "--profiles-dir", str(profiles_dir),
            "--target", target,
            "--quiet",
        ]
        proc = subprocess.run(cmd, env=dbt_env(placeholders=True), capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
            raise DbtError("parse", f"in {project_dir}:\n" + "\n".join(tail))
        path.touch()  # parse may keep the old file when nothing changed
    return path
