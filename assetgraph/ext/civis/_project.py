"""Plan a whole export against a project: which files to write, and the migration report.

Pure apart from reading the project (its dbt_project.yml, existing models and sources, its
.sqlfluff): no file is written here (`importing.py` writes).
"""

from __future__ import annotations

import dataclasses
import keyword
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import networkx as nx
import yaml

from assetgraph.ext.civis._objects import CivisObject
from assetgraph.ext.civis._dbt_files import ModelInfo, model_config, model_yml, sources_yml
from assetgraph.ext.civis._python import AssetModule, container_asset, python_asset, stub_asset
from assetgraph.ext.civis._render_sql import format_sql, render_model_sql
from assetgraph.ext.civis._schedules import GeneratedSchedule, render_module, schedule_for
from assetgraph.ext.civis._sql import ScriptPlan, TableName, plan_script
from assetgraph.ext.civis._workflows import WorkflowPlan, read_workflow
from assetgraph.ext.civis.errors import CivisCycleError, CivisTableConflictError

__all__ = ["Migration", "ModelInfo", "plan_migration", "SOURCES_FILE", "ASSET_PACKAGE"]

SOURCES_FILE = "civis__sources.yml"
SCHEDULES_FILE = "civis_schedules.py"
ASSET_PACKAGE = "flows.civis"  # flows/civis/<slug>.py: one module per migrated Python asset
_FLOWS_INIT = '"""Project flows (this file was created by `assetgraph civis import`)."""\n'


@dataclass(frozen=True)
class Migration:
    files: dict[str, str]  # path relative to the project root -> content
    report: dict[str, Any]
    models: tuple[ModelInfo, ...] = ()
    schedules: tuple[GeneratedSchedule, ...] = ()


@dataclass
class _Entry:
    obj: CivisObject
    became: str = ""
    keys: list[str] = field(default_factory=list)
    schedule: dict[str, Any] | None = None
    attention: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"type": self.obj.type, "id": self.obj.id, "name": self.obj.name, "became": self.became,
                "keys": list(dict.fromkeys(self.keys)), "schedule": self.schedule,
                "needs_attention": list(dict.fromkeys(self.attention))}


# ---- reading the project -------------------------------------------------------------------
def _dbt_dirs(dbt_dir: Path) -> tuple[str, str]:
    config = {}
    if (dbt_dir / "dbt_project.yml").is_file():
        config = yaml.safe_load((dbt_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    return (str((config.get("model-paths") or ["models"])[0]),
            str((config.get("analysis-paths") or ["analyses"])[0]))


def _existing(models_dir: Path) -> tuple[set[str], dict[TableName, tuple[str, str]]]:
    """Model names, and (schema, table) -> (source name, table name) of existing sources;
    our own generated files excluded."""
    names: set[str] = set()
    sources: dict[TableName, tuple[str, str]] = {}
    if not models_dir.is_dir():
        return names, sources
    for path in models_dir.rglob("*.sql"):
        names.add(path.stem)
    for path in list(models_dir.rglob("*.yml")) + list(models_dir.rglob("*.yaml")):
        if path.name == SOURCES_FILE:
            continue
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue
        for src in doc.get("sources") or [] if isinstance(doc, dict) else []:
            schema = str(src.get("schema") or src.get("name")).lower()
            for table in src.get("tables") or []:
                ident = str(table.get("identifier") or table.get("name")).lower()
                sources[TableName(schema, ident)] = (src["name"], table["name"])
    return names, sources


# ---- the plan ------------------------------------------------------------------------------
def _writers(plans: dict[int, ScriptPlan], imports: list[CivisObject]) -> dict[TableName, list[str]]:
    out: dict[TableName, list[str]] = {}
    for plan in plans.values():
        for t in [w.table for w in plan.writes] + list(plan.landed):
            if plan.obj.label not in out.get(t, []):
                out.setdefault(t, []).append(plan.obj.label)
    for obj in imports:
        for t in _import_tables(obj):
            out.setdefault(t, []).append(obj.label)
    return out


def _sync_table(sync: dict[str, Any]) -> TableName | None:
    table = ((sync or {}).get("destination") or {}).get("databaseTable") or {}
    if not table.get("table"):
        return None
    return TableName(str(table.get("schema") or "public").lower(), str(table["table"]).lower())


def _import_tables(obj: CivisObject) -> list[TableName]:
    return [t for t in (_sync_table(s) for s in obj.body.get("syncs") or []) if t is not None]


def _import_source(obj: CivisObject, sync: dict[str, Any]) -> str:
    src = sync.get("source") or {}
    if src.get("databaseTable"):
        t = src["databaseTable"]
        return f"table {t.get('schema')}.{t.get('table')} on {(obj.body.get('source') or {}).get('name') or 'a remote host'}"
    if src.get("googleWorksheet"):
        g = src["googleWorksheet"]
        return f"Google Sheet {g.get('spreadsheet')!r} / {g.get('worksheet')!r}"
    if src.get("path"):
        return f"file {src['path']}"
    if src.get("file"):
        return f"Civis file {src['file'].get('id')}"
    return "an unknown source"


def _check_cycles(plans: dict[int, ScriptPlan], model_of: dict[TableName, int]) -> None:
    graph = nx.DiGraph()
    for plan in plans.values():
        for table in plan.reads:
            writer = model_of.get(table)
            if writer is not None and writer != plan.obj.id:
                graph.add_edge(writer, plan.obj.id, table=str(table))
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    steps = [f"{plans[a].obj.label} writes {graph.edges[a, b]['table']}, read by" for a, b in cycle]
    raise CivisCycleError(steps + [plans[cycle[0][0]].obj.label])


def _func_name(slug: str) -> str:
    return slug + "_asset" if keyword.iskeyword(slug) else slug


def _leftover_sql(obj: CivisObject, plan: ScriptPlan, key: str) -> str:
    head = [f"-- Civis {obj.label}: statements not carried over into models (needs attention).",
            f"-- Kept for porting; the stub asset {key} fails until it is ported."]
    body = []
    for left in plan.leftovers:
        body += [f"-- reason: {left.reason}", left.sql.rstrip().rstrip(";") + ";", ""]
    return "\n".join(head) + "\n{% raw %}\n" + "\n".join(body) + "{% endraw %}\n"


def _workflow_deps(
    workflows: dict[int, WorkflowPlan],
    plans: dict[int, ScriptPlan],
    infos: dict[TableName, ModelInfo],
    asset_key: dict[int, str],
    by_id: dict[int, CivisObject],
    entries: dict[tuple[str, int], _Entry],
    keys_of: Callable[[int], list[str]],
) -> tuple[dict[TableName, list[str]], dict[int, list[str]]]:
    """Workflow task order -> asset deps, where the SQL does not already imply the order:
    ({table: [model names it must run after]}, {job id: [keys it must run after]})."""
    sql_deps: dict[TableName, list[str]] = {}
    py_deps: dict[int, list[str]] = {}
    for wf_id, wf in workflows.items():
        entry = entries[("workflow", wf_id)]
        entry.attention += list(wf.notes)
        for job in wf.job_ids:
            if job not in by_id:
                entry.attention.append(f"task job {job} is not in the export: not carried over")
            entry.keys += keys_of(job)
        for first, then in wf.edges:
            if first not in by_id or then not in by_id:
                continue
            if then in plans and plans[then].writes:
                first_writes = plans[first].writes if first in plans else ()
                first_tables = {w.table for w in first_writes}
                then_tables = {w.table for w in plans[then].writes}
                if any(w.reads & then_tables for w in first_writes):
                    entry.attention.append(f"{by_id[first].label} reads what {by_id[then].label} writes but"
                                           " runs first: the data order wins, the task order is dropped")
                    continue
                for w in plans[then].writes:
                    if first_tables & w.reads:
                        continue  # the SQL already reads what the earlier task writes
                    sql_deps.setdefault(w.table, []).extend(infos[fw.table].model for fw in first_writes)
                if first in asset_key:
                    entry.attention.append(
                        f"{by_id[then].label} runs after {by_id[first].label}, a Python-level asset:"
                        " dbt models cannot depend on it; the schedule runs both, order not enforced")
            elif then in asset_key:
                py_deps.setdefault(then, []).extend(keys_of(first))
    return sql_deps, py_deps


def plan_migration(objects: tuple[CivisObject, ...], project_root: Path, dbt_dir: Path) -> Migration:
    """Everything the import would write, and the report (raises on bad input)."""
    dbt_rel = dbt_dir.relative_to(project_root).as_posix() if dbt_dir.is_relative_to(project_root) else str(dbt_dir)
    models_rel, analyses_rel = _dbt_dirs(dbt_dir)
    existing_names, existing_sources = _existing(dbt_dir / models_rel)
    sqlfluff_cfg = project_root / ".sqlfluff"
    has_unique_together = any((dbt_dir / "tests").rglob("unique_together.sql")) if (dbt_dir / "tests").is_dir() else False
    by_id = {o.id: o for o in objects if o.type != "workflow"}  # jobs: what workflow tasks run
    entries = {(o.type, o.id): _Entry(o) for o in objects}
    plans = {o.id: plan_script(o) for o in objects if o.type == "sql"}
    workflows: dict[int, WorkflowPlan] = {o.id: read_workflow(o) for o in objects if o.type == "workflow"}
    imports = [o for o in objects if o.type == "import"]

    writers = _writers(plans, imports)
    for table, who in sorted(writers.items()):
        if len(who) > 1:
            raise CivisTableConflictError(str(table), who)
    model_of = {w.table: p.obj.id for p in plans.values() for w in p.writes}
    _check_cycles(plans, model_of)

    # names: a model is named after its table, unless that name is taken
    writes = [(p.obj, w) for p in plans.values() for w in p.writes]
    counts: dict[str, int] = {}
    for _, w in writes:
        counts[w.table.name] = counts.get(w.table.name, 0) + 1
    infos: dict[TableName, ModelInfo] = {}
    ours = {f"{models_rel}/{w.table.schema}/{w.table.name}.sql" for _, w in writes}
    for obj, w in writes:
        name = w.table.name
        taken = {n for n in existing_names} - {Path(p).stem for p in ours}
        if counts[name] > 1 or name in taken:
            name = f"{w.table.schema}__{w.table.name}"
        path = f"{dbt_rel}/{models_rel}/{w.table.schema}/{name}.sql"
        infos[w.table] = ModelInfo(w.table.key, name, str(w.table), obj.id, path)

    # python-level keys (python3, container, SQL stubs): civis/<slug>, unique
    asset_key: dict[int, str] = {}
    used: set[str] = set()
    for o in objects:
        needs_asset = o.type in ("python3", "container") or (o.type == "sql" and plans[o.id].leftovers)
        if needs_asset:
            slug = o.slug if o.slug not in used else f"{o.slug}_{o.id}"
            used.add(slug)
            asset_key[o.id] = f"civis/{slug}"

    def keys_of(job_id: int) -> list[str]:
        out = [infos[w.table].key for w in plans[job_id].writes] if job_id in plans else []
        return out + ([asset_key[job_id]] if job_id in asset_key else [])

    sql_deps, py_deps = _workflow_deps(workflows, plans, infos, asset_key, by_id, entries, keys_of)

    # sources: read but not rebuilt by any model
    sources: dict[TableName, str] = {}
    for o in imports:
        for sync in o.body.get("syncs") or []:
            t = _sync_table(sync)
            if t is not None:
                sources[t] = f"Loaded by Civis {o.label} from {_import_source(o, sync)}."
    for p in plans.values():
        for t in p.reads:
            if t not in infos:
                sources.setdefault(t, f"Read by Civis {p.obj.label}; written outside the imported scripts.")

    def relation(t: TableName) -> str:
        if t in infos:
            return f"ref({infos[t].model!r})"
        src, table = existing_sources.get(t) or (t.schema, t.name)
        return f"source({src!r}, {table!r})"

    files: dict[str, str] = {}
    for obj, w in writes:
        info = infos[w.table]
        entry = entries[("sql", obj.id)]
        header = tuple(f"-- depends_on: {{{{ ref({m!r}) }}}}  (workflow task order)"
                       for m in dict.fromkeys(sql_deps.get(w.table, [])))
        text, notes = render_model_sql(w, relation, model_config(w), header)
        text, lint = format_sql(text, sqlfluff_cfg)
        entry.attention += [f"{info.key}: {n}" for n in list(w.notes) + notes + lint]
        files[info.path] = text
        deps_note = " Runs after " + ", ".join(sql_deps[w.table]) + " (workflow order)." if w.table in sql_deps else ""
        files[info.path[:-4] + ".yml"] = model_yml(w, info, obj, deps_note, has_unique_together,
                                                     info.model != w.table.name)
        entry.keys.append(info.key)
    used_existing = {t for t in sources if t in existing_sources}
    ours_sources = {t: v for t, v in sources.items() if t not in used_existing}
    if ours_sources:
        files[f"{dbt_rel}/{models_rel}/{SOURCES_FILE}"] = sources_yml(ours_sources)
    for o in imports:
        entry = entries[("import", o.id)]
        entry.became = "dbt sources"
        entry.keys += [(existing_sources.get(t, (t.schema, t.name))[0] + "/" + t.name) for t in _import_tables(o)]
        for sync in o.body.get("syncs") or []:
            dest = ((sync or {}).get("destination") or {}).get("databaseTable") or {}
            entry.attention.append(
                f"import runs outside dbt: {_import_source(o, sync)} -> {dest.get('schema')}.{dest.get('table')}"
                " (move it to an extraction flow, or keep it running in Civis)")

    modules: dict[str, AssetModule] = {}
    stub_keys: set[str] = set()
    for o in objects:
        if o.id not in asset_key:
            continue
        key = asset_key[o.id]
        func = _func_name(key.split("/", 1)[1])
        deps = tuple(dict.fromkeys(py_deps.get(o.id, [])))
        entry = entries[(o.type, o.id)]
        if o.type == "python3":
            module = python_asset(o, key, func, deps)
            entry.became = "Python asset" if module.text.find("NotImplementedError") < 0 else "stub asset"
        elif o.type == "container":
            module = container_asset(o, key, func, deps)
            entry.became = "stub asset (container image: needs a deployment)"
        else:
            plan = plans[o.id]
            reasons = "; ".join(dict.fromkeys(left.reason for left in plan.leftovers))
            original = "\n\n".join(left.sql for left in plan.leftovers)
            module = stub_asset(o, key, func, original, reasons, deps)
            files[f"{dbt_rel}/{analyses_rel}/civis/{func}.sql"] = _leftover_sql(o, plan, key)
        entry.attention += list(module.notes)
        entry.keys.append(key)
        modules[func] = module
        if "NotImplementedError" in module.text:
            stub_keys.add(key)
        files[f"flows/civis/{func}.py"] = module.text
    if modules:
        lines = ['"""Assets moved from Civis by `assetgraph civis import` (generated).', "",
                 '`"flows.civis.*"` in `[tool.assetgraph] modules` (pyproject.toml) loads them."""', ""]
        lines += [f"from flows.civis.{f} import {f} as {f}" for f in sorted(modules)]
        files["flows/civis/__init__.py"] = "\n".join(lines) + "\n"
        package = project_root / "flows" / "__init__.py"
        if not package.exists() or package.read_text(encoding="utf-8") == _FLOWS_INIT:
            files["flows/__init__.py"] = _FLOWS_INIT

    for o in objects:
        if o.body.get("archived") not in (None, False, "", "false"):
            entries[(o.type, o.id)].attention.append("archived in Civis (exported with --include-archived)")
    for p in plans.values():
        entry = entries[("sql", p.obj.id)]
        n = len(p.writes)
        parts = [f"{n} dbt model{'s' if n != 1 else ''}"] if n else []
        if p.leftovers:
            parts.append("a stub asset (needs attention)")
            entry.attention += [left.reason for left in p.leftovers]
        entry.became = " + ".join(parts)
        entry.attention += list(p.notes)

    schedules: list[GeneratedSchedule] = []
    for o in objects:
        entry = entries[(o.type, o.id)]
        if o.type == "workflow":
            entry.became = "a schedule of its tasks' assets" if o.schedule and o.schedule.scheduled else "asset order"
        if o.type == "import":
            if o.schedule and o.schedule.scheduled:
                entry.attention.append("the import's Civis schedule stays in Civis until its extraction is moved")
            continue
        keys = list(dict.fromkeys(entry.keys))
        sched, notes = schedule_for(o, " ".join(keys))
        entry.attention += notes
        if sched is not None and keys and set(keys) <= stub_keys:
            sched = dataclasses.replace(sched, active=False)
            entry.attention.append("its schedule is created paused: it would only run stubs until they are ported")
        if sched is not None:
            schedules.append(sched)
            entry.schedule = {"name": sched.name, "cron": sched.cron, "timezone": sched.timezone,
                              "selection": sched.selection, "active": sched.active, "civis": o.schedule.as_json() if o.schedule else None}
    if schedules:
        files[SCHEDULES_FILE] = render_module(schedules)

    report = {"objects": [entries[(o.type, o.id)].as_json() for o in objects],
              "models": {i.key: {"model": i.model, "relation": i.relation, "civis_id": i.civis_id,
                                 "path": i.path} for i in sorted(infos.values(), key=lambda x: x.key)}}
    return Migration(files, report, tuple(infos.values()), tuple(schedules))

