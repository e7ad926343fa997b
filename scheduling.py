"""Every schedule, in code. Schedules target asset *selections*, so a dbt model added to a
selected group or tag is scheduled without touching this file.

    python scheduling.py plan    # diff between this file and the Prefect server; changes nothing
    python scheduling.py apply   # make the server match (create / update / delete ours only)
    python scheduling.py serve   # run every active schedule in this process (no work pool needed)

Deployments this file creates carry the tag `managed-by:assetgraph`; `apply` never touches a
deployment without it. The server is the one `PREFECT_API_URL` points at.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
MANAGED_TAG = "managed-by:assetgraph"
FLOWS = ("assetgraph-materialize", "assetgraph-freshness")


@dataclass(frozen=True)
class Schedule:
    """`flow`: "materialize" runs the selection; "freshness" alerts when it is stale."""

    name: str
    selection: str
    cron: str
    timezone: str = "America/New_York"
    parameters: dict[str, Any] = field(default_factory=dict)
    work_pool: str = "assetgraph-process"
    tags: tuple[str, ...] = ()
    active: bool = True
    description: str = ""
    flow: str = "materialize"


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        name="nightly-van-source-codes",
        selection="+sync/van_source_codes",
        cron="5 2 * * *",
        tags=("nightly",),
        description="Land raw data, build dbt models, run the quality gate, sync origin source codes.",
    ),
    Schedule(
        name="hourly-freshness",
        selection="tag:nightly",
        cron="15 * * * *",
        flow="freshness",
        description="Alert when a nightly asset is past its freshness policy.",
    ),
)


def _generated(path: Path) -> tuple[Schedule, ...]:
    """Schedules a tool generated beside this file (`assetgraph civis import` writes
    civis_schedules.py), if there is such a file."""
    if not path.is_file():
        return ()
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_generated_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return tuple(Schedule(**entry) for entry in module.SCHEDULES)


SCHEDULES += _generated(ROOT / "civis_schedules.py")


def _flow_for(schedule: Schedule) -> Any:
    from assetgraph.execution.deployable import freshness_flow, materialize_flow

    return {"materialize": materialize_flow, "freshness": freshness_flow}[schedule.flow]


def _to_deployment(schedule: Schedule, with_pool: bool) -> Any:
    from prefect.schedules import Cron

    want = desired_state(schedule)
    extra: dict[str, Any] = {}
    if with_pool:
        extra = {"work_pool_name": schedule.work_pool, "job_variables": {"working_dir": str(ROOT)}}
    return _flow_for(schedule).to_deployment(
        name=schedule.name,
        schedules=[Cron(schedule.cron, timezone=schedule.timezone, active=schedule.active)],
        parameters=want["parameters"],
        tags=want["tags"],
        description=want["description"],
        **extra,
    )


# ---- desired vs. actual --------------------------------------------------------------------
def desired_state(schedule: Schedule) -> dict[str, Any]:
    return {
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "active": schedule.active,
        "parameters": {"selection": schedule.selection, **schedule.parameters},
        "work_pool": schedule.work_pool,
        "tags": sorted({*schedule.tags, MANAGED_TAG}),
        # Prefect stores an empty description as "None": always send a real one
        "description": schedule.description or f"assetgraph {schedule.flow} {schedule.selection}",
    }


def actual_state(deployment: Any) -> dict[str, Any]:
    sched = deployment.schedules[0] if deployment.schedules else None
    inner = getattr(sched, "schedule", None)
    return {
        "cron": getattr(inner, "cron", None),
        "timezone": getattr(inner, "timezone", None),
        "active": bool(getattr(sched, "active", False)),
        "parameters": dict(deployment.parameters or {}),
        "work_pool": deployment.work_pool_name,
        "tags": sorted(deployment.tags or []),
        "description": deployment.description or "",
    }


@dataclass(frozen=True)
class Change:
    action: str  # create | update | unchanged | delete
    name: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (server, file)


def _managed_deployments(client: Any) -> dict[str, Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterName

    deployments = client.read_deployments(
        flow_filter=FlowFilter(name=FlowFilterName(any_=list(FLOWS))),
        deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[MANAGED_TAG])),
    )
    return {d.name: d for d in deployments}


def plan(schedules: tuple[Schedule, ...] = SCHEDULES) -> list[Change]:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        server = _managed_deployments(client)
    changes: list[Change] = []
    for s in schedules:
        want = desired_state(s)
        if s.name not in server:
            changes.append(Change("create", s.name, {k: (None, v) for k, v in want.items()}))
            continue
        have = actual_state(server[s.name])
        diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
        changes.append(Change("update" if diff else "unchanged", s.name, diff))
    declared = {s.name for s in schedules}
    changes += [Change("delete", name) for name in sorted(server) if name not in declared]
    return changes


def apply(schedules: tuple[Schedule, ...] = SCHEDULES) -> list[Change]:
    from prefect import get_client

    changes = plan(schedules)
    by_name = {s.name: s for s in schedules}
    with get_client(sync_client=True) as client:
        server = _managed_deployments(client)
        for change in changes:
            if change.action == "delete":
                client.delete_deployment(server[change.name].id)
            elif change.action in ("create", "update"):
                schedule = by_name[change.name]
                _to_deployment(schedule, with_pool=True).apply(work_pool_name=schedule.work_pool)
    return changes


def serve(schedules: tuple[Schedule, ...] = SCHEDULES) -> None:
    from prefect import serve as prefect_serve

    prefect_serve(*[_to_deployment(s, with_pool=False) for s in schedules])


def _print(changes: list[Change]) -> None:
    for c in changes:
        print(f"{c.action:9} {c.name}")
        for k, (old, new) in c.fields.items():
            if c.action == "update":
                print(f"          {k}: {old!r} -> {new!r}")
    counts = {a: sum(c.action == a for c in changes) for a in ("create", "update", "unchanged", "delete")}
    print(", ".join(f"{n} {a}" for a, n in counts.items()))


def main(argv: list[str]) -> int:
    from assetgraph._env import apply_defaults

    apply_defaults()
    command = argv[1] if len(argv) > 1 else "plan"
    if command == "plan":
        _print(plan())
    elif command == "apply":
        _print(apply())
    elif command == "serve":
        serve()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
