"""`assetgraph civis import DIR [--dry-run]`: an export becomes project files, all or none.

    result = import_export(Path("civis-export"), Path("."), dry_run=False)
    print("\\n".join(result.lines()))

Writing is crash-safe: every file is staged under `.civis-import/` in the project (same file
system), checked, and a `READY` marker is written; only then are the files moved into place,
and the staging directory removed. A process killed before `READY` leaves a staging directory
the next import discards; killed after it, the next import finishes the move first. A file
whose content is unchanged is not touched, so importing the same export twice changes nothing.
Files a previous import generated and this one does not (a script left the export) are removed.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from assetgraph.config import load_settings
from assetgraph.ext.civis._objects import read_export
from assetgraph.ext.civis._project import ASSET_PACKAGE, plan_migration
from assetgraph.ext.civis._report import render_json, render_markdown
from assetgraph.ext.civis.contract import REPORT_JSON, REPORT_MD
from assetgraph.ext.civis.errors import CivisMigrationError

__all__ = ["ImportResult", "import_export", "dbt_project_dir"]

STAGING = ".civis-import"
_READY = "READY"
_PLAN = "plan.json"


@dataclass(frozen=True)
class ImportResult:
    dry_run: bool
    created: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    objects: int
    needs_attention: tuple[str, ...]  # "sql script 12 "x": reason"
    schedules: int
    unloaded_modules: tuple[str, ...] = ()  # generated asset modules the project does not load

    def lines(self) -> list[str]:
        verb = "would " if self.dry_run else ""
        done = "would be " if self.dry_run else ""
        out = [f"{verb}create {p}" for p in self.created]
        out += [f"{verb}update {p}" for p in self.changed]
        out += [f"{verb}remove {p}" for p in self.removed]
        n_write = len(self.created) + len(self.changed) + len(self.removed)
        out.append(
            f"{self.objects} Civis object(s): {len(self.created)} file(s) {done}created, "
            f"{len(self.changed)} {done}updated, {len(self.removed)} {done}removed, "
            f"{len(self.unchanged)} unchanged; {self.schedules} schedule(s)"
            + ("" if n_write or self.dry_run else " (nothing changed)")
        )
        if self.needs_attention:
            out.append(f"{len(self.needs_attention)} item(s) need attention (see {REPORT_MD}):")
            out += [f"  {item}" for item in self.needs_attention]
        if self.unloaded_modules:
            out.append(f'add "{ASSET_PACKAGE}.*" to [tool.assetgraph] modules in pyproject.toml: the project '
                       f"does not load {len(self.unloaded_modules)} migrated asset module(s) "
                       f"({', '.join(self.unloaded_modules)})")
        return out


def _unloaded(paths: list[str], entries: tuple[str, ...]) -> tuple[str, ...]:
    """The generated asset modules (`flows/civis/<slug>.py`) that `[tool.assetgraph] modules`
    entries do not load: neither named, nor under a `flows.civis.*` entry, nor re-exported by a
    `flows.civis` entry (the generated package imports every module)."""
    if f"{ASSET_PACKAGE}.*" in entries or ASSET_PACKAGE in entries:
        return ()
    folder = ASSET_PACKAGE.replace(".", "/") + "/"
    names = [p[:-3].replace("/", ".") for p in paths
             if p.startswith(folder) and p.endswith(".py") and not p.endswith("/__init__.py")]
    return tuple(n for n in sorted(names) if n not in entries)


def dbt_project_dir(project_root: Path) -> Path:
    settings = load_settings(root=project_root)
    if settings.dbt_project_dir is None:
        raise CivisMigrationError(f"{project_root} has no dbt project (dbt_project.yml)")
    return settings.dbt_project_dir


def _validate(files: dict[str, str]) -> None:
    """What a generated file must be before anything is written (a bug here aborts all)."""
    for path, text in files.items():
        try:
            if path.endswith(".py"):
                ast.parse(text, filename=path)
            elif path.endswith((".yml", ".yaml")):
                yaml.safe_load(text)
            elif path.endswith(".json"):
                json.loads(text)
        except (SyntaxError, yaml.YAMLError, ValueError) as exc:
            raise CivisMigrationError(f"generated {path} is invalid ({exc}); nothing was written") from None


def _finish(root: Path, stage: Path) -> None:
    """Move a READY staging directory into place (idempotent), then remove it."""
    plan = json.loads((stage / _PLAN).read_text(encoding="utf-8"))
    for rel in plan["write"]:
        src, dst = stage / "files" / rel, root / rel
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    for rel in plan["remove"]:
        (root / rel).unlink(missing_ok=True)
    shutil.rmtree(stage, ignore_errors=True)


def _recover(root: Path) -> None:
    base = root / STAGING
    if not base.is_dir():
        return
    for stage in sorted(base.iterdir()):
        if (stage / _READY).is_file():
            _finish(root, stage)
        else:
            shutil.rmtree(stage, ignore_errors=True)
    try:
        base.rmdir()
    except OSError:
        pass


def _previous_files(root: Path) -> set[str]:
    path = root / REPORT_JSON
    try:
        return set(json.loads(path.read_text(encoding="utf-8")).get("files") or [])
    except (OSError, ValueError):
        return set()


def import_export(export_dir: Path, project_root: Path, *, dry_run: bool) -> ImportResult:
    root = Path(project_root).resolve()
    if not dry_run:
        _recover(root)
    objects = read_export(Path(export_dir))
    migration = plan_migration(objects, root, dbt_project_dir(root))
    files = dict(migration.files)
    report = {**migration.report, "files": sorted(files)}
    files[REPORT_JSON] = render_json(report)
    files[REPORT_MD] = render_markdown(report)
    _validate(files)

    created, changed, unchanged = [], [], []
    for rel, text in sorted(files.items()):
        target = root / rel
        if not target.exists():
            created.append(rel)
        elif target.read_text(encoding="utf-8") != text:
            changed.append(rel)
        else:
            unchanged.append(rel)
    removed = sorted(p for p in _previous_files(root) - set(files) if (root / p).exists())
    attention = tuple(
        f'{o["type"]} {o["id"]} "{o["name"]}": {item}'
        for o in report["objects"] for item in o["needs_attention"]
    )
    unloaded = _unloaded(sorted(files), load_settings(root=root).modules)
    result = ImportResult(dry_run, tuple(created), tuple(changed), tuple(unchanged), tuple(removed),
                          len(objects), attention, len(migration.schedules), unloaded)
    if dry_run or not (created or changed or removed):
        return result

    stage = root / STAGING / uuid.uuid4().hex
    for rel in created + changed:
        path = stage / "files" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[rel], encoding="utf-8")
    (stage / _PLAN).write_text(json.dumps({"write": created + changed, "remove": removed}), encoding="utf-8")
    with open(stage / _READY, "w", encoding="utf-8") as fh:
        fh.write("ready\n")
        fh.flush()
        os.fsync(fh.fileno())
    _finish(root, stage)
    try:
        (root / STAGING).rmdir()
    except OSError:
        pass
    return result
