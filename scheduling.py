"""Every schedule, in code. Schedules target asset *selections*, so a dbt model added to a
selected group or tag is scheduled without touching this file.

    python scheduling.py plan    # diff between this file and the Prefect server; changes nothing
    python scheduling.py apply   # make the server match (create / update / delete ours only)
    python scheduling.py serve   # run every active schedule in this process (no work pool needed)

Deployments this file creates carry the tag `managed-by:assetgraph`; `apply` never touches a
deployment without it. The server is the one `PREFECT_API_URL` points at; unset, the project's
local server (`.prefect/`, started or reused as `make nightly` does).

Work pools: `plan`/`apply` also create or update the pools of `WORK_POOLS` that a schedule
uses (never deleting one). Which pool the schedules use: `ASSETGRAPH_WORK_POOL` (default
`assetgraph-process`, a process worker started in the checkout); CI sets it to a container pool
and `ASSETGRAPH_IMAGE` to the image it pushed (see README, Deploy). Errors are one line and a
non-zero exit (`--debug` for the traceback).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from assetgraph.work_pools import Change, WorkPool

ROOT = Path(__file__).resolve().parent

MANAGED_TAG = "managed-by:assetgraph"
FLOWS = ("assetgraph-materialize", "assetgraph-freshness")
DEFAULT_POOL = os.environ.get("ASSETGRAPH_WORK_POOL", "").strip() or "assetgraph-process"
IMAGE = os.environ.get("ASSETGRAPH_IMAGE", "").strip() or "assetgraph:latest"

WORK_POOLS: tuple[WorkPool, ...] = (
    WorkPool("assetgraph-process", "process", description="A process worker started in the checkout."),
    WorkPool("assetgraph-docker", "docker", image=IMAGE, job_variables={"auto_remove": True, "mem_limit": "4g"}),
    WorkPool("assetgraph-ecs", "ecs", image=IMAGE,
             job_variables={"cpu": 1024, "memory": 4096, "launch_type": "FARGATE"}),
    WorkPool("assetgraph-kubernetes", "kubernetes", image=IMAGE,
             job_variables={"namespace": "assetgraph", "image_pull_policy": "IfNotPresent", "finished_job_ttl": 86400}),
)


@dataclass(frozen=True)
class Schedule:
    """`flow`: "materialize" runs the selection; "freshness" alerts when it is stale."""

    name: str
    selection: str
    cron: str
    timezone: str = "America/New_York"
    parameters: dict[str, Any] = field(default_factory=dict)
    work_pool: str = DEFAULT_POOL
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


def _to_deployment(schedule: Schedule) -> Any:
    """The schedule as a deployment served by this process (`serve`: no work pool)."""
    from prefect.schedules import Cron

    want = desired_state(schedule)
    return _flow_for(schedule).to_deployment(
        name=schedule.name,
        schedules=[Cron(schedule.cron, timezone=schedule.timezone, active=schedule.active)],
        parameters=want["parameters"],
        tags=want["tags"],
        description=want["description"],
    )


def _entrypoint(schedule: Schedule) -> str:
    """A module path, importable wherever the project is installed (no file path of this machine)."""
    fn = _flow_for(schedule).fn
    return f"{fn.__module__}.{fn.__name__}"


# ---- desired vs. actual --------------------------------------------------------------------
def desired_state(schedule: Schedule, pool: WorkPool | None = None) -> dict[str, Any]:
    where: dict[str, Any] = {}
    if pool is not None:  # what a worker needs to find and run the flow
        where = {"entrypoint": _entrypoint(schedule), "path": None, "pull_steps": pool.pull_steps(),
                 "job_variables": pool.deployment_job_variables()}
    return {
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "active": schedule.active,
        "parameters": {"selection": schedule.selection, **schedule.parameters},
        "work_pool": schedule.work_pool,
        "tags": sorted({*schedule.tags, MANAGED_TAG}),
        # Prefect stores an empty description as "None": always send a real one
        "description": schedule.description or f"assetgraph {schedule.flow} {schedule.selection}",
        **where,
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
        "entrypoint": deployment.entrypoint,
        "path": deployment.path,
        "pull_steps": list(deployment.pull_steps or []),
        "job_variables": dict(deployment.job_variables or {}),
    }


def _managed_deployments(client: Any) -> dict[str, Any]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterName

    deployments = client.read_deployments(
        flow_filter=FlowFilter(name=FlowFilterName(any_=list(FLOWS))),
        deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[MANAGED_TAG])),
    )
    return {d.name: d for d in deployments}


def _pools_used(schedules: tuple[Schedule, ...], pools: tuple[WorkPool, ...]) -> tuple[WorkPool, ...]:
    from assetgraph.errors import WorkPoolError

    declared = {p.name: p for p in pools}
    for s in schedules:
        if s.work_pool not in declared:
            raise WorkPoolError(s.work_pool, f"schedule {s.name!r} uses it, but WORK_POOLS does not declare it "
                                f"(declared: {', '.join(declared) or 'none'})")
    return tuple(p for p in pools if any(s.work_pool == p.name for s in schedules))


@contextmanager
def _client() -> Iterator[Any]:
    """A sync Prefect client, once the API answered (else one clear error)."""
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL

    from assetgraph.errors import PrefectApiError

    url = PREFECT_API_URL.value() or ""
    if not url:
        raise PrefectApiError("", "set PREFECT_API_URL to the server to plan and apply against")
    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
        if problem is not None:
            status = getattr(getattr(problem, "response", None), "status_code", None)
            if status is not None:
                raise PrefectApiError(url, f"answered HTTP {status} to its health check: not a Prefect API "
                                      "URL? (it ends in /api)")
            reason = (str(problem).strip().splitlines() or [type(problem).__name__])[0][:300]
            raise PrefectApiError(url, f"not reachable ({reason}); is the server running, and is PREFECT_API_URL right?")
        yield client


def _plan(client: Any, schedules: tuple[Schedule, ...], pools: tuple[WorkPool, ...]) -> list[Change]:
    from assetgraph.work_pools import plan_pools

    used = _pools_used(schedules, pools)
    changes = plan_pools(client, used)
    server = _managed_deployments(client)
    pool_of = {p.name: p for p in used}
    for s in schedules:
        want = desired_state(s, pool_of[s.work_pool])
        if s.name not in server:
            changes.append(Change("create", s.name, {k: (None, v) for k, v in want.items()}))
            continue
        have = actual_state(server[s.name])
        diff = {k: (have.get(k), v) for k, v in want.items() if have.get(k) != v}
        changes.append(Change("update" if diff else "unchanged", s.name, diff))
    declared = {s.name for s in schedules}
    changes += [Change("delete", name) for name in sorted(server) if name not in declared]
    return changes


def plan(schedules: tuple[Schedule, ...] = SCHEDULES, pools: tuple[WorkPool, ...] | None = None) -> list[Change]:
    with _client() as client:
        return _plan(client, schedules, WORK_POOLS if pools is None else pools)


def _write_deployment(client: Any, schedule: Schedule, pool: WorkPool) -> None:
    """Create or update (the server upserts by flow and name) exactly the desired state."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.utilities.callables import parameter_schema

    want = desired_state(schedule, pool)
    flow = _flow_for(schedule)
    client.create_deployment(
        flow_id=client.create_flow_from_name(flow.name),
        name=schedule.name,
        schedules=[DeploymentScheduleCreate(schedule=CronSchedule(cron=want["cron"], timezone=want["timezone"]),
                                            active=want["active"])],
        parameters=want["parameters"],
        description=want["description"],
        tags=want["tags"],
        work_pool_name=pool.name,
        job_variables=want["job_variables"],
        entrypoint=want["entrypoint"],
        path=want["path"],
        pull_steps=want["pull_steps"],
        parameter_openapi_schema=parameter_schema(flow.fn).model_dump(),
    )


def apply(schedules: tuple[Schedule, ...] = SCHEDULES, pools: tuple[WorkPool, ...] | None = None) -> list[Change]:
    from assetgraph.work_pools import apply_pools

    pools = WORK_POOLS if pools is None else pools
    by_name = {s.name: s for s in schedules}
    pool_of = {p.name: p for p in pools}
    with _client() as client:
        changes = _plan(client, schedules, pools)
        apply_pools(client, pools, [c for c in changes if c.kind == "work pool"])
        server = _managed_deployments(client)
        for change in (c for c in changes if c.kind == "deployment"):
            if change.action == "delete":
                client.delete_deployment(server[change.name].id)
            elif change.action in ("create", "update"):
                schedule = by_name[change.name]
                _write_deployment(client, schedule, pool_of[schedule.work_pool])
    return changes


def serve(schedules: tuple[Schedule, ...] = SCHEDULES) -> None:
    from prefect import serve as prefect_serve

    prefect_serve(*[_to_deployment(s) for s in schedules])


def _print(changes: list[Change]) -> None:
    for c in changes:
        print(f"{c.action:9} {c.kind:10} {c.name}")
        for k, (old, new) in c.fields.items():
            if c.action == "update":
                print(f"          {k}: {old!r} -> {new!r}")
    counts = {a: sum(c.action == a for c in changes) for a in ("create", "update", "unchanged", "delete")}
    print(", ".join(f"{n} {a}" for a, n in counts.items()))


def _one_line(exc: Exception) -> str:
    """What went wrong, in one line (no traceback; `--debug` shows it)."""
    from assetgraph.errors import AssetGraphError

    if isinstance(exc, AssetGraphError):
        return str(exc).splitlines()[0]
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        url = str(getattr(getattr(exc, "request", None), "url", "") or "")
        return (f"the Prefect API answered HTTP {status} for {url}; is PREFECT_API_URL right? "
                "(it ends in /api)")
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def main(argv: list[str]) -> int:
    from assetgraph._env import apply_defaults

    apply_defaults()
    debug = "--debug" in argv
    args = [a for a in argv[1:] if a != "--debug"]
    command = args[0] if args else "plan"
    commands = {"plan": lambda: _print(plan()), "apply": lambda: _print(apply()), "serve": serve}
    if command not in commands:
        print(__doc__)
        return 2
    try:
        if command in ("plan", "apply"):
            # PREFECT_API_URL, else the project's local server in .prefect/ (as `make nightly` uses)
            from assetgraph._prefect_server import ensure_prefect_api

            ensure_prefect_api(ROOT, announce=lambda line: print(line, file=sys.stderr))
        commands[command]()
    except Exception as exc:
        if debug:
            raise
        print(f"scheduling.py {command}: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
