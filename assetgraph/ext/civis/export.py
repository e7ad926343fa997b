"""`assetgraph civis export DIR`: the Civis estate as one JSON file per object.

    DIR/scripts/sql/<id>.json         GET /scripts/sql/{id}
    DIR/scripts/python3/<id>.json     GET /scripts/python3/{id}
    DIR/scripts/containers/<id>.json  GET /scripts/containers/{id}
    DIR/workflows/<id>.json           GET /workflows/{id}
    DIR/imports/<id>.json             GET /imports/{id}

Each file holds the body the API returned (camelCase keys, in the API's order), except secret
values, which are replaced (see `_redact.py`). Lists go page by page; civis-python retries 429s
(honouring Retry-After, bounded in `_client.py`). Archived objects are left out unless
`include_archived`.

All or nothing: the files are written to a hidden sibling directory, which then replaces DIR in
two renames. A run killed before the swap leaves DIR as it was; one killed between the two
renames leaves the previous export beside DIR, and the next run puts it back first.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from assetgraph.ext.civis._client import CivisSession, connect
from assetgraph.ext.civis._layout import KINDS, is_archived
from assetgraph.ext.civis._redact import redact
from assetgraph.ext.civis.errors import CivisExportDirError

__all__ = ["ExportResult", "export_estate"]

_EXPORT_ENTRIES = {"scripts": {"sql", "python3", "containers"}, "workflows": None, "imports": None}


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    endpoint: str
    counts: Mapping[str, int]  # kind name -> files written
    include_archived: bool
    redacted: tuple[tuple[str, str], ...] = ()  # (file, field) where a secret value was replaced
    vanished: tuple[str, ...] = ()  # listed, then gone (404) before it could be read
    skipped_archived: int = 0  # archived objects a listing returned anyway

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        out = [f"exported {self.total} Civis objects from {self.endpoint} to {self.directory}"]
        for kind in KINDS:
            out.append(f"  {kind.folder + '/':<20} {self.counts.get(kind.name, 0):>5}")
        if not self.include_archived:
            out.append("  archived objects left out (--include-archived exports them too)")
        if self.skipped_archived:
            out.append(f"  {self.skipped_archived} archived objects skipped")
        for name in self.vanished:
            out.append(f"  {name}: listed but gone when read (404), not exported")
        for file, place in self.redacted:
            out.append(f"  {file}: a secret value in `{place}` was replaced by a placeholder")
        return out


def export_estate(
    directory: Path,
    *,
    include_archived: bool = False,
    session: CivisSession | None = None,
    environ: Mapping[str, str] | None = None,
) -> ExportResult:
    """Write the export to `directory` (absent, empty, or a previous export it replaces)."""
    target = Path(directory).absolute()
    _recover(target)
    _check_target(target)
    session = session or connect(environ)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.export-", dir=target.parent))
    except OSError as exc:
        raise CivisExportDirError(target, f"cannot write here ({exc.strerror or exc})") from None
    try:
        counts: dict[str, int] = {}
        redacted: list[tuple[str, str]] = []
        vanished: list[str] = []
        skipped = 0
        for kind in KINDS:
            counts[kind.name] = 0
            for object_id in session.list_ids(kind, include_archived=include_archived):
                body = session.get(kind, object_id)
                if body is None:
                    vanished.append(f"{kind.label} {object_id}")
                    continue
                if not include_archived and is_archived(body):
                    skipped += 1
                    continue
                clean, places = redact(body)
                rel = f"{kind.folder}/{object_id}.json"
                _write_json(staging / rel, clean)
                redacted.extend((rel, p) for p in places)
                counts[kind.name] += 1
        _swap_into_place(staging, target)
    except OSError as exc:  # disk full, permissions: the export is not written, DIR unchanged
        shutil.rmtree(staging, ignore_errors=True)
        raise CivisExportDirError(target, f"cannot write the export ({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportResult(
        directory=target, endpoint=session.endpoint, counts=counts, include_archived=include_archived,
        redacted=tuple(redacted), vanished=tuple(vanished), skipped_archived=skipped,
    )


def _write_json(path: Path, body: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())


def _is_export(path: Path) -> bool:
    """Only the folders an export writes (so replacing it can lose nothing else)."""
    for entry in path.iterdir():
        allowed = _EXPORT_ENTRIES.get(entry.name, False)
        if allowed is False or not entry.is_dir():
            return False
        if allowed is not None and any(sub.name not in allowed for sub in entry.iterdir()):
            return False
    return True


def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise CivisExportDirError(target, "exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not _is_export(target):
        raise CivisExportDirError(
            target, "holds files that are not a Civis export; export into a new or empty directory"
        )


def _siblings(target: Path, tag: str) -> list[Path]:
    if not target.parent.is_dir():
        return []
    return sorted(target.parent.glob(f".{target.name}.{tag}-*"))


def _recover(target: Path) -> None:
    """Undo what a killed run left: staging directories go; a previous export moved aside comes
    back if DIR is missing (killed between the two renames), else goes."""
    for staging in _siblings(target, "export"):
        shutil.rmtree(staging, ignore_errors=True)
    for old in _siblings(target, "previous"):
        if not target.exists():
            old.rename(target)
        else:
            shutil.rmtree(old, ignore_errors=True)


def _swap_into_place(staging: Path, target: Path) -> None:
    for kind in KINDS:  # every folder, even for a kind the estate has none of
        (staging / kind.folder).mkdir(parents=True, exist_ok=True)
    _fsync_dir(staging)
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        staging.rename(target)
    else:
        aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.previous-", dir=target.parent))
        aside.rmdir()
        target.rename(aside)
        staging.rename(target)
        shutil.rmtree(aside, ignore_errors=True)
    _fsync_dir(target.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
