"""The five kinds of Civis object the migration moves, and where each lives: its API paths,
its folder in an export, and its `type` in the migration report. One table, read by the export,
the fake API and archive alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["ObjectKind", "KINDS", "KIND_BY_NAME", "KIND_BY_REPORT_TYPE", "is_archived"]


@dataclass(frozen=True)
class ObjectKind:
    name: str  # the API's word: sql, python3, containers, workflows, imports
    folder: str  # under an export directory: one `<id>.json` per object
    report_type: str  # `type` in reports/civis-migration.json
    label: str  # for messages: `sql script 12 "name"`
    script: bool  # listed through GET /scripts?type=<name>

    @property
    def item_path(self) -> str:
        """The API path of one object, with `{id}`."""
        return f"{self.folder}/{{id}}"


KINDS: tuple[ObjectKind, ...] = (
    ObjectKind("sql", "scripts/sql", "sql", "sql script", True),
    ObjectKind("python3", "scripts/python3", "python3", "python3 script", True),
    ObjectKind("containers", "scripts/containers", "container", "container script", True),
    ObjectKind("workflows", "workflows", "workflow", "workflow", False),
    ObjectKind("imports", "imports", "import", "import", False),
)
KIND_BY_NAME: Mapping[str, ObjectKind] = {k.name: k for k in KINDS}
KIND_BY_REPORT_TYPE: Mapping[str, ObjectKind] = {k.report_type: k for k in KINDS}


def is_archived(obj: Mapping[str, Any]) -> bool:
    """The API's `archived` is a string ("true"/"false"); accept a boolean too."""
    value = obj.get("archived")
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "null")
    return bool(value)
