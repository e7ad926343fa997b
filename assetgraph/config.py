"""Project settings, found the way dbt finds a project, plus `[tool.assetgraph]` in pyproject.toml.

Each setting is the first found of:
- asset modules: ASSETGRAPH_MODULES ("a.b,c.d"; empty: dbt only), `modules` in [tool.assetgraph];
- dbt project: --project-dir, DBT_PROJECT_DIR, `dbt_project_dir` in [tool.assetgraph] (default
  `dbt_project/` when present), the working directory and its parents (dbt_project.yml);
- dbt profiles: --profiles-dir, DBT_PROFILES_DIR, `dbt_profiles_dir` in [tool.assetgraph]
  (default `profiles/` when present), the dbt project directory, ~/.dbt;
- dbt target: DBT_TARGET, `dbt_target`, then `prod` when WAREHOUSE_URL is redshift://, else `dev`.

The pyproject.toml is the nearest one upwards from the working directory that has a
[tool.assetgraph] table (or the one in ASSETGRAPH_HOME); its directory is the project root, and
paths in the table are relative to it. --project-dir, --profiles-dir and the DBT_* variables are
relative to the working directory, as in dbt. A directory named explicitly that lacks its file
(dbt_project.yml, profiles.yml) is an error, never a silent fallback.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from assetgraph.errors import ConfigError

__all__ = ["Settings", "load_settings", "find_root", "find_dbt_project"]


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


def find_dbt_project(start: Path | None = None) -> Path | None:
    """The nearest directory upwards holding a dbt_project.yml (dbt's own rule)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "dbt_project.yml").is_file():
            return d
    return None


def _table(root: Path) -> dict[str, Any] | None:
    """[tool.assetgraph] of root/pyproject.toml, or None when there is no such table."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        tool = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: {exc}") from None
    return tool.get("assetgraph")


def _named_dir(value: str | os.PathLike[str], base: Path, marker: str, what: str) -> Path:
    """A directory the user named explicitly: it must hold its marker file."""
    path = (base / Path(value).expanduser()).resolve()
    if not (path / marker).is_file():
        raise ConfigError(f"{what}={path} has no {marker}")
    return path


def _configured_dir(
    option: str | os.PathLike[str] | None, env: Mapping[str, str], table: dict[str, Any] | None,
    root: Path, cwd: Path, *, flag: str, variable: str, key: str, default: str, marker: str,
) -> Path | None:
    """The directory named by the option, else the variable, else `key` in [tool.assetgraph]
    (else the folder `default` beside that pyproject.toml, when it holds `marker`)."""
    if option:
        return _named_dir(option, cwd, marker, flag)
    if env.get(variable):
        return _named_dir(env[variable], cwd, marker, variable)
    if table is not None:
        if table.get(key):
            return _named_dir(table[key], root, marker, f"[tool.assetgraph] {key}")
        if (root / default / marker).is_file():
            return (root / default).resolve()
    return None


def load_settings(
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    profiles_dir: str | os.PathLike[str] | None = None,
) -> Settings:
    """Settings for the project around the working directory (see the module docstring).
    `project_dir` / `profiles_dir` are the --project-dir / --profiles-dir options."""
    env = os.environ if environ is None else environ
    cwd = Path.cwd().resolve()
    root = (root or Path(env.get("ASSETGRAPH_HOME") or find_root())).resolve()
    table = _table(root)

    if "ASSETGRAPH_MODULES" in env:
        modules = tuple(m.strip() for m in env["ASSETGRAPH_MODULES"].split(",") if m.strip())
    else:
        modules = tuple((table or {}).get("modules", ()))

    dbt_dir = _configured_dir(
        project_dir, env, table, root, cwd,
        flag="--project-dir", variable="DBT_PROJECT_DIR", key="dbt_project_dir",
        default="dbt_project", marker="dbt_project.yml",
    ) or find_dbt_project(cwd)
    profiles = _configured_dir(
        profiles_dir, env, table, root, cwd,
        flag="--profiles-dir", variable="DBT_PROFILES_DIR", key="dbt_profiles_dir",
        default="profiles", marker="profiles.yml",
    )
    if profiles is None:
        has_own = dbt_dir is not None and (dbt_dir / "profiles.yml").is_file()
        profiles = dbt_dir if has_own else Path.home() / ".dbt"

    url = env.get("WAREHOUSE_URL", "")
    default_target = "prod" if url.startswith("redshift") else "dev"
    target = env.get("DBT_TARGET") or (table or {}).get("dbt_target") or default_target
    return Settings(
        root=root,
        modules=modules,
        dbt_project_dir=dbt_dir,
        dbt_profiles_dir=profiles,
        dbt_target=target,
    )
