"""dbt's `--project-dir` and `--profiles-dir` on every `assetgraph` command that reads the
project: `@project_options` (under `@app.command()`) adds both options to a command without
touching its body, and `project_settings()` finds the project with what the running command was
given (see `assetgraph.config` for the order of the places searched)."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer

__all__ = ["project_options", "project_settings"]

F = TypeVar("F", bound=Callable[..., Any])

_given: dict[str, Optional[Path]] = {"project_dir": None, "profiles_dir": None}


def _option(name: str, flag: str, help: str) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Path],
        default=typer.Option(None, flag, file_okay=False, help=help),
    )


_OPTIONS = (
    _option("project_dir", "--project-dir",
            "dbt project directory (else DBT_PROJECT_DIR, dbt_project_dir under tool.assetgraph in "
            "pyproject.toml, or the nearest dbt_project.yml upwards from here)."),
    _option("profiles_dir", "--profiles-dir",
            "Directory of profiles.yml (else DBT_PROFILES_DIR, dbt_profiles_dir under "
            "tool.assetgraph, the dbt project directory, ~/.dbt)."),
)


def project_options(fn: F) -> F:
    """Give a typer command `--project-dir` and `--profiles-dir`."""
    signature = inspect.signature(fn, eval_str=True)

    @functools.wraps(fn)
    def command(*args: Any, project_dir: Optional[Path] = None, profiles_dir: Optional[Path] = None,
                **kwargs: Any) -> Any:
        _given.update(project_dir=project_dir, profiles_dir=profiles_dir)
        try:
            return fn(*args, **kwargs)
        finally:
            _given.update(project_dir=None, profiles_dir=None)

    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *_OPTIONS]
    )
    return command  # type: ignore[return-value]


def project_settings():  # type: ignore[no-untyped-def]
    """The project's settings for the running command (its --project-dir / --profiles-dir)."""
    from assetgraph.config import load_settings

    return load_settings(**_given)
