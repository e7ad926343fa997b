"""What `civis import`, `civis verify` and `civis archive` hand each other.

- `civis import` writes `reports/civis-migration.json` (REPORT_JSON, under the project root;
  REPORT_MD beside it for people)::

      {"objects": [{"type": "sql" | "python3" | "container" | "workflow" | "import",
                    "id": 12, "name": "...", "became": "dbt model" | ...,
                    "keys": ["schema/table", ...], "schedule": {...} | null,
                    "needs_attention": ["reason", ...]}, ...],
       "models": {"schema/table": {"model": "table", "relation": "schema.table",
                                   "civis_id": 12, "path": "dbt_project/models/..."}, ...},
       "files": ["path the import wrote", ...]}

  `objects` is what archive reads (`read_report`), `models` what verify compares, `files`
  what the next import may remove.

- `civis verify` records one catalog check result named PARITY_CHECK (`civis_parity`) per key
  it compared (`assetgraph.catalog.record_check`, status `passed` / `failed` / `error`).
- `civis archive` acts on an object only when it needs no attention and the latest
  `civis_parity` result of every one of its keys is `passed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from assetgraph.ext.civis._layout import KIND_BY_REPORT_TYPE, ObjectKind
from assetgraph.ext.civis.errors import CivisArchiveError

__all__ = [
    "REPORT_JSON", "REPORT_MD", "REPORT_PATH", "PARITY_CHECK", "MigratedObject", "read_report", "select_keys",
]

REPORT_JSON = "reports/civis-migration.json"
REPORT_MD = "reports/civis-migration.md"
REPORT_PATH = Path(REPORT_JSON)
PARITY_CHECK = "civis_parity"


@dataclass(frozen=True)
class MigratedObject:
    """One Civis object as the migration report describes it."""

    type: str
    id: int
    name: str
    became: str = ""
    keys: tuple[str, ...] = ()
    schedule: Mapping[str, Any] | None = None
    needs_attention: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> ObjectKind:
        return KIND_BY_REPORT_TYPE[self.type]

    @property
    def label(self) -> str:
        """`sql script 12 "daily totals"`: how messages name the object."""
        return f"{self.kind.label} {self.id}" + (f' "{self.name}"' if self.name else "")

    @classmethod
    def from_json(cls, item: Any, where: str) -> "MigratedObject":
        if not isinstance(item, dict):
            raise CivisArchiveError(where, "is not an object")
        kind = item.get("type")
        if kind not in KIND_BY_REPORT_TYPE:
            raise CivisArchiveError(where, f"type {kind!r} is not one of {sorted(KIND_BY_REPORT_TYPE)}")
        object_id = item.get("id")
        if not isinstance(object_id, int) or isinstance(object_id, bool):
            raise CivisArchiveError(where, f"id {object_id!r} is not an integer")
        keys = item.get("keys") or []
        attention = item.get("needs_attention") or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise CivisArchiveError(where, "keys must be a list of asset keys")
        if not isinstance(attention, list):
            raise CivisArchiveError(where, "needs_attention must be a list")
        schedule = item.get("schedule")
        return cls(
            type=kind,
            id=object_id,
            name=str(item.get("name") or ""),
            became=str(item.get("became") or ""),
            keys=tuple(keys),
            schedule=schedule if isinstance(schedule, dict) else None,
            needs_attention=tuple(str(a) for a in attention),
        )


def read_report(path: Path) -> tuple[MigratedObject, ...]:
    """The objects of a migration report; CivisArchiveError names the file and what is wrong."""
    if not path.is_file():
        raise CivisArchiveError(path, "no migration report: run `assetgraph civis import DIR` first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CivisArchiveError(path, f"is not valid JSON ({exc})") from None
    items = data.get("objects") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise CivisArchiveError(path, 'has no "objects" list')
    return tuple(MigratedObject.from_json(item, f"{path} objects[{i}]") for i, item in enumerate(items))


def select_keys(keys: Iterable[str], selection: str | None) -> list[str]:
    """The migrated keys SELECTION picks (sorted; all when it is empty), in the asset selection
    syntax: keys, globs (`analytics/*`), `group:`, unions. The keys are taken alone, without the
    project's graph, so lineage operators (`+key`) add nothing. A term matching no key raises
    `UnknownAssetError` (`.term`)."""
    known = sorted(set(keys))
    if not selection or not selection.strip():
        return known
    from assetgraph.graph import AssetGraph
    from assetgraph.selection import select
    from assetgraph.specs import AssetSpec

    graph = AssetGraph.build([AssetSpec.create(k) for k in known])
    return sorted(str(k) for k in select(selection, graph))
