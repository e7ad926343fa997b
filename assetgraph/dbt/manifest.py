"""Turn a dbt `manifest.json` into asset specs and checks. Reads JSON only: no dbt import.

Key rules (identical on every target, because they use the node's place in the project and
never its database or schema):
- model    -> `<first folder under models/>/<name>` (`marts/van_source_code_assignments`);
              a model at the top of models/ -> `<name>` (Dagster's rule; group `default`).
              Before 0.2 such a model was keyed `models/<name>`: see the README's migration.
- seed     -> `seeds/<name>`;  snapshot -> `snapshots/<name>`
- source   -> `<source_name>/<table>` (`raw/signups`), so it lands on the Python asset
              with that key when one exists; otherwise it is an external `source` asset
- any node -> `meta: {assetgraph: {key: "a/b"}}` overrides the key
- test     -> a check on the model it tests (`attached_node`); error severity blocks
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from assetgraph.errors import ManifestError
from assetgraph.keys import AssetKey, CheckKey
from assetgraph.specs import AssetKind, AssetSpec, CheckSpec, FreshnessPolicy

__all__ = ["DbtAssets", "load_manifest", "assets_from_manifest"]

_ASSET_TYPES = ("model", "seed", "snapshot")


@dataclass(frozen=True)
class DbtAssets:
    specs: tuple[AssetSpec, ...]
    checks: tuple[CheckSpec, ...]
    node_for_asset: Mapping[AssetKey, str] = field(default_factory=dict)
    node_for_check: Mapping[CheckKey, str] = field(default_factory=dict)
    source_keys: frozenset[AssetKey] = frozenset()
    project_name: str = ""


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ManifestError(str(path), "not found; run `dbt parse` in the project") from None
    except json.JSONDecodeError as exc:
        raise ManifestError(str(path), f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "nodes" not in data:
        raise ManifestError(str(path), "has no 'nodes'; is it a dbt manifest?")
    return data


def _meta_key(node: Mapping[str, Any]) -> AssetKey | None:
    for meta in (node.get("meta") or {}, (node.get("config") or {}).get("meta") or {}):
        custom = (meta.get("assetgraph") or {}).get("key")
        if custom:
            return AssetKey.from_coercible(custom)
    return None


def node_key(node: Mapping[str, Any]) -> AssetKey:
    custom = _meta_key(node)
    if custom:
        return custom
    rtype = node["resource_type"]
    if rtype == "source":
        return AssetKey((node["source_name"], node["name"]))
    if rtype == "model":
        fqn = node.get("fqn") or []
        if len(fqn) <= 2:  # [project, name]: a model at the top of models/
            return AssetKey((node["name"],))
        return AssetKey((fqn[1], node["name"]))
    return AssetKey((rtype + "s", node["name"]))


def _meta(node: Mapping[str, Any]) -> dict[str, Any]:
    return {**((node.get("config") or {}).get("meta") or {}), **(node.get("meta") or {})}


def _freshness(node: Mapping[str, Any]) -> FreshnessPolicy | None:
    hours = (_meta(node).get("assetgraph") or {}).get("freshness_hours")
    return FreshnessPolicy(float(hours)) if hours else None


def _owners(node: Mapping[str, Any]) -> tuple[str, ...]:
    meta = _meta(node)
    owner = meta.get("owner") or meta.get("owners") or ()
    return (owner,) if isinstance(owner, str) else tuple(owner)


def assets_from_manifest(manifest: Mapping[str, Any]) -> DbtAssets:
    nodes: dict[str, Mapping[str, Any]] = dict(manifest.get("nodes", {}))
    sources: dict[str, Mapping[str, Any]] = dict(manifest.get("sources", {}))
    unit_tests: dict[str, Mapping[str, Any]] = dict(manifest.get("unit_tests", {}) or {})
    project = (manifest.get("metadata") or {}).get("project_name", "")

    key_of: dict[str, AssetKey] = {}
    for uid, node in sources.items():
        key_of[uid] = node_key(node)
    for uid, node in nodes.items():
        if node.get("resource_type") in _ASSET_TYPES:
            key_of[uid] = node_key(node)

    specs: list[AssetSpec] = []
    node_for_asset: dict[AssetKey, str] = {}
    seen: dict[AssetKey, str] = {}
    for uid, node in nodes.items():
        if node.get("resource_type") not in _ASSET_TYPES:
            continue
        key = key_of[uid]
        if key in seen:
            raise ManifestError(
                "manifest", f"{uid} and {seen[key]} both map to asset key {key}; "
                "set meta.assetgraph.key on one of them"
            )
        seen[key] = uid
        config = node.get("config") or {}
        deps = [key_of[d] for d in (node.get("depends_on") or {}).get("nodes", []) if d in key_of]
        specs.append(
            AssetSpec.create(
                key,
                deps=deps,
                kind=AssetKind.DBT,
                group=config.get("group") or (key.parts[0] if len(key.parts) > 1 else "default"),
                tags=node.get("tags") or (),
                owners=_owners(node),
                description=node.get("description") or "",
                freshness=_freshness(node),
                code_version=((node.get("checksum") or {}).get("checksum") or "")[:12] or None,
                metadata={
                    "dbt_unique_id": uid,
                    "resource_type": node["resource_type"],
                    "materialized": config.get("materialized"),
                    "relation": ".".join(
                        p for p in (node.get("schema"), node.get("alias") or node.get("name")) if p
                    ),
                    "path": node.get("original_file_path"),
                    # a build's tests of the model check only the rows it wrote (macros/build_scope.sql)
                    **({"built_at_column": col} if (col := _meta(node).get("built_at_column")) else {}),
                },
            )
        )
        node_for_asset[key] = uid

    source_specs: dict[AssetKey, AssetSpec] = {}
    for uid, node in sources.items():
        key = key_of[uid]
        source_specs[key] = AssetSpec.create(
            key,
            kind=AssetKind.SOURCE,
            group=key.parts[0],
            tags=node.get("tags") or (),
            owners=_owners(node),
            description=node.get("description") or node.get("source_description") or "",
            freshness=_freshness(node),
            metadata={
                "dbt_unique_id": uid,
                "resource_type": "source",
                "relation": f"{node.get('schema')}.{node.get('identifier') or node.get('name')}",
            },
        )

    checks: list[CheckSpec] = []
    node_for_check: dict[CheckKey, str] = {}
    tests = [(uid, n) for uid, n in nodes.items() if n.get("resource_type") == "test"]
    tests += [(uid, n) for uid, n in unit_tests.items()]
    for uid, node in tests:
        target = node.get("attached_node")
        if not target:
            parents = [d for d in (node.get("depends_on") or {}).get("nodes", []) if d in key_of]
            if not parents and node.get("resource_type") == "unit_test":
                model = node.get("model")
                parents = [u for u, n in nodes.items() if n.get("name") == model and u in key_of]
            target = parents[-1] if parents else None
        if target not in key_of:
            continue  # a test on something that is not an asset (e.g. only on a source)
        severity = str((node.get("config") or {}).get("severity", "error")).lower()
        is_unit = node.get("resource_type") == "unit_test"
        ckey = CheckKey(key_of[target], node["name"])
        checks.append(
            CheckSpec(
                key=ckey,
                blocking=severity == "error",
                description=node.get("description") or "",
                source="dbt_unit_test" if is_unit else "dbt",
            )
        )
        node_for_check[ckey] = uid

    return DbtAssets(
        specs=tuple(specs) + tuple(source_specs.values()),
        checks=tuple(checks),
        node_for_asset=node_for_asset,
        node_for_check=node_for_check,
        source_keys=frozenset(source_specs),
        project_name=project,
    )
