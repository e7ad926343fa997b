"""A Civis workflow's Mistral v2 definition: which jobs it runs, and in which order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from assetgraph.ext.civis._objects import CivisObject
from assetgraph.ext.civis.errors import CivisObjectError

__all__ = ["WorkflowPlan", "read_workflow"]


@dataclass(frozen=True)
class WorkflowPlan:
    job_ids: tuple[int, ...]  # in definition order
    edges: tuple[tuple[int, int], ...]  # (job run first, job run after)
    notes: tuple[str, ...] = ()


def _names(value: Any) -> list[str]:
    """`on-success` is a task name, a list of names, or a list of {name: condition}."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out.extend(str(k) for k in item)
    return out


def read_workflow(obj: CivisObject) -> WorkflowPlan:
    def fail(reason: str) -> CivisObjectError:
        return CivisObjectError(obj.kind_label, obj.id, obj.name, reason)

    try:
        doc = yaml.safe_load(str(obj.body.get("definition") or ""))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise fail(f"its definition is not valid YAML{where}") from None
    if not isinstance(doc, dict):
        raise fail("its definition is not a Mistral v2 YAML mapping")
    flows = [v for k, v in doc.items() if k != "version" and isinstance(v, dict) and "tasks" in v]
    if not flows:
        raise fail("its definition has no workflow with tasks")
    notes: list[str] = []
    task_job: dict[str, int] = {}
    after: list[tuple[str, str]] = []
    for flow in flows:
        tasks = flow.get("tasks") or {}
        if not isinstance(tasks, dict):
            raise fail("its tasks are not a mapping")
        for name, task in tasks.items():
            task = task or {}
            action = str(task.get("action") or task.get("workflow") or "")
            job = (task.get("input") or {}).get("job_id") if isinstance(task.get("input"), dict) else None
            if action.startswith("civis.") and isinstance(job, int):
                task_job[str(name)] = job
            else:
                notes.append(f"task {name!r} ({action or 'no action'}) runs no Civis job: not carried over")
            for key in ("on-success", "on-complete"):
                after += [(str(name), nxt) for nxt in _names(task.get(key))]
            after += [(req, str(name)) for req in _names(task.get("requires"))]
            if task.get("on-error"):
                notes.append(f"task {name!r} has on-error handling: not carried over (the asset run fails instead)")
    edges = []
    for first, then in after:
        if first in task_job and then in task_job:
            edges.append((task_job[first], task_job[then]))
    return WorkflowPlan(tuple(dict.fromkeys(task_job.values())), tuple(dict.fromkeys(edges)), tuple(notes))
