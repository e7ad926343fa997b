"""`assetgraph civis ...`: export, import, verify, archive.

Registered under the `assetgraph.cli` entry-point group (pyproject.toml), so the core CLI adds it
without importing this package statically. Importing this module must stay cheap: typer and
rich only; civis-python, dbt, Prefect and the warehouse are imported inside the commands.

Exit codes: 0 done, 1 failed (a verify mismatch, an archive step or the Civis API failed),
2 bad input or usage (a missing or malformed export or report, a directory that is not an export,
CIVIS_API_KEY unset or refused, CIVIS_API_ENDPOINT not a URL).
Every error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console

__all__ = ["app"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Move a Civis estate into this project: export, import, verify, archive.",
    pretty_exceptions_enable=False,
)
_out = Console(highlight=False, soft_wrap=True, markup=False)
_err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

SELECTION_HELP = "Asset selection over the migrated keys (key, glob like staging/*, group:X); all if omitted."


def _project_root() -> Path:
    from assetgraph.config import find_root

    return Path(os.environ.get("ASSETGRAPH_HOME") or find_root())


def _print(lines: list[str]) -> None:
    for line in lines:
        _out.print(line)


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """Expected errors -> one line and exit 1 (Civis API) or 2 (input); nothing else escapes
    as a traceback unless ASSETGRAPH_DEBUG is set."""
    from assetgraph.errors import AssetGraphError
    from assetgraph.ext.civis.errors import CivisApiError, CivisConfigError

    try:
        yield
    except typer.Exit:
        raise
    except CivisConfigError as exc:
        _err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    except CivisApiError as exc:
        _err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    except AssetGraphError as exc:
        _err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        _err.print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:
        if os.environ.get("ASSETGRAPH_DEBUG"):
            raise
        _err.print(f"error: unexpected {type(exc).__name__}: {exc} (ASSETGRAPH_DEBUG=1 shows the traceback)")
        raise typer.Exit(1) from None


@app.command("export")
def export_cmd(
    directory: Path = typer.Argument(..., help="Where to write the export (new, empty, or a previous export)."),
    include_archived: bool = typer.Option(False, "--include-archived", help="Export archived objects too."),
) -> None:
    """Write every Civis script, workflow and import as the API's JSON, one file per object."""
    from assetgraph.ext.civis.export import export_estate

    with _one_line_errors():
        result = export_estate(directory, include_archived=include_archived)
    _print(result.lines())


@app.command("import")
def import_cmd(
    directory: Path = typer.Argument(..., help="A directory written by `assetgraph civis export`."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would be written; write nothing."),
) -> None:
    """Turn an export into dbt models, asset modules, schedules and a migration report."""
    with _one_line_errors():
        from assetgraph.ext.civis.importing import import_export

        result = import_export(directory, _project_root(), dry_run=dry_run)
    _print(result.lines())


@app.command("verify")
def verify_cmd(selection: Optional[str] = typer.Argument(None, help=SELECTION_HELP)) -> None:
    """Build the migrated models into shadow relations and compare them with the live tables."""
    with _one_line_errors():
        from assetgraph.ext.civis.verify import verify

        result = verify(selection, _project_root())
    _print(result.lines())
    if not result.ok:
        raise typer.Exit(1)


@app.command("archive")
def archive_cmd(
    selection: Optional[str] = typer.Argument(None, help=SELECTION_HELP),
    yes: bool = typer.Option(False, "--yes", help="Really turn the Civis schedules off (default: dry run)."),
    archive: bool = typer.Option(False, "--archive", help="Also archive the objects in Civis."),
) -> None:
    """Switch Civis off for objects whose last verify passed: schedule off, optionally archive."""
    from assetgraph.ext.civis.archive import archive_objects

    with _one_line_errors():
        result = archive_objects(selection, _project_root(), yes=yes, archive=archive)
    _print(result.lines())
    if not result.ok:
        raise typer.Exit(1)
