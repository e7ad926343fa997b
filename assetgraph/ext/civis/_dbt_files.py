"""The dbt side of a migrated model: its config() values, its yml (description, Civis
provenance, tests inferred from the SQL), and the sources yml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from sqlglot import exp

from assetgraph.ext.civis._objects import CivisObject
from assetgraph.ext.civis._sql import TableName, TableWrite

__all__ = ["ModelInfo", "model_config", "model_yml", "sources_yml"]


@dataclass(frozen=True)
class ModelInfo:
    key: str
    model: str  # dbt model name
    relation: str  # schema.table it writes in prod
    civis_id: int
    path: str  # relative to the project root



def _group_keys(query: exp.Query) -> list[str]:
    """Output columns that are the GROUP BY key of the final SELECT (unique per row)."""
    if not isinstance(query, exp.Select) or not query.args.get("group"):
        return []
    projections = query.expressions
    out = []
    for g in query.args["group"].expressions:
        if isinstance(g, exp.Literal) and g.is_int and 0 < int(g.name) <= len(projections):
            out.append(projections[int(g.name) - 1].alias_or_name.lower())
            continue
        match = [p for p in projections if (p.unalias() if isinstance(p, exp.Alias) else p) == g]
        if not match:
            return []
        out.append(match[0].alias_or_name.lower())
    return out if all(out) else []


def _coalesced(query: exp.Query, column: str) -> bool:
    if not isinstance(query, exp.Select):
        return False
    for p in query.expressions:
        if p.alias_or_name.lower() == column:
            inner = p.unalias() if isinstance(p, exp.Alias) else p
            return isinstance(inner, exp.Coalesce) and any(
                isinstance(e, exp.Literal) for e in inner.expressions)
    return False


def _tests(write: TableWrite, has_unique_together: bool) -> tuple[dict[str, list[Any]], list[Any]]:
    """Column tests and model tests that follow from the SQL."""
    cols: dict[str, list[Any]] = {}
    model_tests: list[Any] = []
    for c in write.not_null:
        cols.setdefault(c, []).append("not_null")
    for c in write.unique:
        cols.setdefault(c, []).append("unique")
    keys = _group_keys(write.query)
    if len(keys) == 1:
        cols.setdefault(keys[0], [])
        if "unique" not in cols[keys[0]]:
            cols[keys[0]].append("unique")
    elif len(keys) > 1 and has_unique_together:
        model_tests.append({"unique_together": {"arguments": {"columns": keys}}})
    for k in keys:
        if "not_null" in cols.get(k, []):
            continue
        # a GROUP BY key may hold one null group: blocking only when the SQL rules nulls out
        cols.setdefault(k, []).append(
            "not_null" if _coalesced(write.query, k) else {"not_null": {"config": {"severity": "warn"}}})
    return cols, model_tests


def model_config(write: TableWrite) -> dict[str, str]:
    cfg = {"materialized": repr(write.materialized), "schema": repr(write.table.schema),
           "alias": repr(write.table.name), "tags": "['civis']"}
    if write.dist:
        cfg["dist"] = repr(write.dist)
    if write.sort:
        cfg["sort"] = repr(list(write.sort))
    if write.grants:
        grants: dict[str, list[str]] = {}
        for privilege, grantee, group in write.grants:
            grants.setdefault(privilege, []).append(("group:" if group else "") + grantee)
        # the roles exist on the Redshift cluster the scripts ran on, not in a dev Postgres
        cfg["grants"] = f"({grants!r} if target.type == 'redshift' else {{}})"
    return cfg


def model_yml(write: TableWrite, info: ModelInfo, obj: CivisObject, deps_note: str,
               has_unique_together: bool, key_override: bool) -> str:
    who = f" by {obj.author}" if obj.author else ""
    when = f", last updated {obj.updated_at}" if obj.updated_at else ""
    description = (f"Table {info.relation}, rebuilt by Civis {obj.label}{who}{when}; "
                   f"moved by assetgraph civis import.{deps_note}")
    meta: dict[str, Any] = {"civis": {"id": obj.id, "type": obj.type, "name": obj.name,
                                      "author": obj.author, "updated_at": obj.updated_at}}
    if key_override:
        meta["assetgraph"] = {"key": info.key}
    cols, model_tests = _tests(write, has_unique_together)
    node: dict[str, Any] = {"name": info.model, "description": description, "config": {"meta": meta}}
    if model_tests:
        node["data_tests"] = model_tests
    if cols:
        node["columns"] = [{"name": c, "data_tests": t} for c, t in cols.items()]
    return yaml.safe_dump({"version": 2, "models": [node]}, sort_keys=False, width=100, allow_unicode=True)


def sources_yml(sources: dict[TableName, str]) -> str:
    by_schema: dict[str, list[dict[str, Any]]] = {}
    for table, origin in sorted(sources.items()):
        by_schema.setdefault(table.schema, []).append({"name": table.name, "description": origin})
    doc = {"version": 2, "sources": [
        {"name": schema, "schema": schema,
         "description": "Tables the Civis estate reads that no imported script rebuilds.",
         "tables": tables}
        for schema, tables in by_schema.items()
    ]}
    return yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
