"""Project settings: `[tool.assetgraph]` in pyproject.toml, overridden by environment variables.

| setting          | pyproject key      | environment          | default          |
|------------------|--------------------|----------------------|------------------|
| asset modules    | modules            | ASSETGRAPH_MODULES   | []               |
| dbt project      | dbt_project_dir    | DBT_PROJECT_DIR      | dbt_project      |
| dbt profiles     | dbt_profiles_dir   | DBT_PROFILES_DIR     | profiles         |
| dbt target       | dbt_target         | DBT_TARGET           | dev / prod*      |

*`prod` when WAREHOUSE_URL is a redshift:// URL, else `dev`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from assetgraph.errors import ConfigError

__all__ = ["Settings", "load_settings", "find_root"]


@dataclass(frozen=True)
class Settings:
    root: Path
    modules: tuple[str, ...]
    dbt_project_dir: Path | None
    dbt_profiles_dir: Path
    dbt_target: str


def find_root(start: Path | None = None) -> Path:
    """The nearest directory upwards holding a pyproject.toml with [tool.assetgraph]."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        p = d / "pyproject.toml"
        if p.is_file() and "[tool.assetgraph]" in p.read_text(encoding="utf-8"):
            return d
    return here


def load_settings(root: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    root = root or Path(env.get("ASSETGRAPH_HOME") or find_root())
    table: dict = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("assetgraph", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{pyproject}: {exc}") from None

    if "ASSETGRAPH_MODULES" in env:
        modules = tuple(m.strip() for m in env["ASSETGRAPH_MODULES"].split(",") if m.strip())
    else:
        modules = tuple(table.get("modules", ()))

    project = env.get("DBT_PROJECT_DIR") or table.get("dbt_project_dir", "dbt_project")
    project_dir: Path | None = (root / project).resolve() if project else None
    if project_dir is not None and not (project_dir / "dbt_project.yml").is_file():
        if env.get("DBT_PROJECT_DIR"):
            raise ConfigError(f"DBT_PROJECT_DIR={project_dir} has no dbt_project.yml")
        project_dir = None

    profiles = env.get("DBT_PROFILES_DIR") or table.get("dbt_profiles_dir", "profiles")
    profiles_dir = (root / profiles).resolve()
    if not (profiles_dir / "profiles.yml").is_file() and project_dir is not None:
        if (project_dir / "profiles.yml").is_file():
            profiles_dir = project_dir

    url = env.get("WAREHOUSE_URL", "")
    default_target = "prod" if url.startswith("redshift") else "dev"
    target = env.get("DBT_TARGET") or table.get("dbt_target") or default_target
    return Settings(
        root=root,
        modules=modules,
        dbt_project_dir=project_dir,
        dbt_profiles_dir=profiles_dir,
        dbt_target=target,
    )
