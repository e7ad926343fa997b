"""State-aware selection: how the project differs from a saved state (`--state DIR`).

A state is a folder from an earlier run, for example prod's dbt `target/`: its `manifest.json`
(what dbt wrote) and, beside it, `assetgraph_state.json` (the code versions of the Python
assets, written by every `materialize`). The comparison follows dbt's `state:modified`:

- `new`: the node is not in the state;
- `body`: the SQL changed, comments and whitespace included (dbt compares `raw_code`); a seed
  by its file checksum;
- `configs`: the node's configuration changed (`unrendered_config`, from `dbt_project.yml`,
  a properties yml or `config()`), tags and group aside, as dbt; persisted descriptions too;
- `relation`: database, schema or alias (as configured) or the node's place (fqn);
- `macros`: a macro the node calls, directly or through other macros, changed or is new;
- `checks`: a dbt test or unit test of the asset is new or changed (dbt would select the test
  alone; a check runs with its asset here, so the asset is selected);
- `code_version`: a Python asset's code version differs (an explicit `code_version=` or,
  without one, a hash of the function's source).

Reading is JSON only: no dbt import, so `assetgraph list --state DIR` stays fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from assetgraph.errors import StateError
from assetgraph.keys import AssetKey
from assetgraph.selection.context import SelectionContext, StateDiff
from assetgraph.specs import AssetKind

__all__ = [
    "STATE_FILE", "SavedState", "load_state", "diff_state", "write_state_file", "state_folder", "selection_context",
]

STATE_FILE = "assetgraph_state.json"
_CONFIG_IGNORED = {"tags", "group", "database", "schema", "alias"}
_RELATION_KEYS = ("database", "schema", "alias")


@dataclass(frozen=True)
class SavedState:
    path: Path
    manifest: Mapping[str, Any] | None  # None: the folder has only assetgraph_state.json
    code_versions: Mapping[str, str | None] | None = None  # Python assets; None: not recorded
    extra: Mapping[str, Any] = field(default_factory=dict)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(str(path), f"cannot read {what} ({type(exc).__name__})") from None
    except ValueError as exc:
        raise StateError(str(path), f"{what} is not valid JSON ({exc})") from None


def load_state(path: Path | str) -> SavedState:
    """Read a state folder (or a manifest.json given directly). Raises `StateError`."""
    path = Path(path)
    if path.is_file() and path.suffix == ".json":
        path = path.parent
    if not path.is_dir():
        raise StateError(str(path), "no such folder (expected an earlier run's dbt target folder with manifest.json)")
    manifest = None
    if (path / "manifest.json").is_file():
        manifest = _read_json(path / "manifest.json", "manifest.json")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("nodes"), dict):
            raise StateError(str(path / "manifest.json"), "has no 'nodes'; is it a dbt manifest?")
    code_versions = None
    if (path / STATE_FILE).is_file():
        data = _read_json(path / STATE_FILE, STATE_FILE)
        versions = data.get("code_versions") if isinstance(data, dict) else None
        if not isinstance(versions, dict):
            raise StateError(str(path / STATE_FILE), "has no 'code_versions' mapping")
        code_versions = versions
    if manifest is None and code_versions is None:
        raise StateError(str(path), f"holds neither manifest.json nor {STATE_FILE}")
    return SavedState(path=path, manifest=manifest, code_versions=code_versions)


def _config(node: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (node.get("unrendered_config") or {}).items() if k not in _CONFIG_IGNORED}


def _persisted_docs(node: Mapping[str, Any]) -> tuple[Any, ...]:
    docs = (node.get("config") or {}).get("persist_docs") or {}
    relation = node.get("description") if docs.get("relation") else None
    columns = (
        {k: (c or {}).get("description") for k, c in (node.get("columns") or {}).items()} if docs.get("columns") else None
    )
    return relation, columns


def _body(node: Mapping[str, Any]) -> Any:
    if node.get("resource_type") == "seed" or "raw_code" not in node:
        return node.get("checksum")
    return node.get("raw_code")


def _relation(node: Mapping[str, Any]) -> tuple[Any, ...]:
    unrendered = node.get("unrendered_config") or {}
    return (*(unrendered.get(k) for k in _RELATION_KEYS), tuple(node.get("fqn") or ()))


def _changed_macros(new: Mapping[str, Any], old: Mapping[str, Any]) -> set[str]:
    new_m, old_m = new.get("macros") or {}, old.get("macros") or {}
    changed = {u for u, m in new_m.items() if u not in old_m or old_m[u].get("macro_sql") != m.get("macro_sql")}
    return changed | (set(old_m) - set(new_m))


def _macro_closure(start: list[str], macros: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        uid = todo.pop()
        if uid in seen:
            continue
        seen.add(uid)
        todo.extend(((macros.get(uid) or {}).get("depends_on") or {}).get("macros") or ())
    return seen


def _node_changes(new: Mapping[str, Any], old: Mapping[str, Any] | None, calls_changed_macro: bool) -> set[str]:
    if old is None:
        return {"new"}
    kinds = set()
    if _body(new) != _body(old):
        kinds.add("body")
    if _config(new) != _config(old) or _persisted_docs(new) != _persisted_docs(old):
        kinds.add("configs")
    if _relation(new) != _relation(old):
        kinds.add("relation")
    if calls_changed_macro:
        kinds.add("macros")
    return kinds


def _test_fingerprint(node: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        node.get("raw_code"), node.get("checksum") if node.get("resource_type") == "unit_test" else None,
        json.dumps(node.get("test_metadata"), sort_keys=True, default=str), _config(node),
        json.dumps({k: node.get(k) for k in ("given", "expect", "overrides")}, sort_keys=True, default=str),
    )


def _source_fingerprint(node: Mapping[str, Any]) -> str:
    keys = ("database", "schema", "identifier", "loaded_at_field", "freshness", "quoting", "external", "unrendered_config")
    return json.dumps({k: node.get(k) for k in keys}, sort_keys=True, default=str)


def _dbt_changes(project: Any, new: Mapping[str, Any], old: Mapping[str, Any]) -> dict[AssetKey, set[str]]:
    out: dict[AssetKey, set[str]] = {}
    changed_macros = _changed_macros(new, old)
    new_nodes, old_nodes = new.get("nodes") or {}, old.get("nodes") or {}
    macros = new.get("macros") or {}

    def calls_changed(node: Mapping[str, Any]) -> bool:
        direct = list((node.get("depends_on") or {}).get("macros") or ())
        return bool(changed_macros and _macro_closure(direct, macros) & changed_macros)

    graph = project.graph
    for key, spec in graph.specs.items():
        uid = spec.metadata.get("dbt_unique_id")
        if not uid:
            continue
        if spec.kind is AssetKind.DBT and uid in new_nodes:
            out[key] = _node_changes(new_nodes[uid], old_nodes.get(uid), calls_changed(new_nodes[uid]))
        elif spec.kind is AssetKind.SOURCE and uid in (new.get("sources") or {}):
            before = (old.get("sources") or {}).get(uid)
            if before is None:
                out[key] = {"new"}
            elif _source_fingerprint(new["sources"][uid]) != _source_fingerprint(before):
                out[key] = {"configs"}
    tests = {**(old.get("nodes") or {}), **(old.get("unit_tests") or {})}
    current = {**new_nodes, **(new.get("unit_tests") or {})}
    dbt_assets = getattr(project, "dbt", None)
    for ck, uid in (dbt_assets.node_for_check.items() if dbt_assets else ()):
        node, before = current.get(uid), tests.get(uid)
        if node is None or ck.asset not in graph:
            continue
        if before is None or _test_fingerprint(node) != _test_fingerprint(before) or calls_changed(node):
            out.setdefault(ck.asset, set()).add("checks")
    return out


def diff_state(project: Any, state: SavedState) -> StateDiff:
    """Per asset of `project`, what changed since `state` (assets with no change are absent)."""
    changes: dict[AssetKey, set[str]] = {}
    settings = project.settings
    if state.manifest is not None and getattr(project, "dbt", None) is not None and settings.dbt_project_dir:
        from assetgraph.dbt.project import manifest_path

        current = _read_json(manifest_path(settings.dbt_project_dir), "the project's manifest.json")
        for key, kinds in _dbt_changes(project, current, state.manifest).items():
            changes.setdefault(key, set()).update(kinds)
    if state.code_versions is not None:
        for key in project.python_keys:
            name = str(key)
            if name not in state.code_versions:
                changes.setdefault(key, set()).add("new")
            elif state.code_versions[name] != project.graph.spec(key).code_version:
                changes.setdefault(key, set()).add("code_version")
    return StateDiff(
        changes={k: frozenset(v) for k, v in changes.items() if v}, source=str(state.path),
    )


def state_folder(project: Any) -> Path:
    """Where this project's state is written: dbt's target folder (beside manifest.json)."""
    settings = project.settings
    base = settings.dbt_project_dir if settings.dbt_project_dir is not None else settings.root
    return Path(base) / "target"


def write_state_file(project: Any) -> Path:
    """Write the Python assets' code versions beside the manifest, atomically."""
    folder = state_folder(project)
    folder.mkdir(parents=True, exist_ok=True)
    versions = {str(k): project.graph.spec(k).code_version for k in sorted(project.python_keys)}
    path = folder / STATE_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"code_versions": versions}, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path


def selection_context(
    project: Any, selection: str | None, state_dir: Path | str | None = None, warehouse: Any = None
) -> SelectionContext | None:
    """The context `selection` needs: the state diff when it uses `state:` (or a state is given),
    the catalog's statuses when it uses `status:`. None when it needs neither."""
    from assetgraph.selection import methods_used, parse

    used = methods_used(parse(selection)) if selection else set()
    state = load_state(state_dir) if state_dir is not None else None
    diff = diff_state(project, state) if state is not None and "state" in used else None
    statuses = None
    if "status" in used:
        from assetgraph.status import status_sets
        from assetgraph.warehouse import resolve_warehouse

        statuses = status_sets(warehouse or resolve_warehouse(), project.graph)
    if diff is None and statuses is None:
        return None
    return SelectionContext(state=diff, statuses=statuses)
