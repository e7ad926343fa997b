"""Work pools declared in code, for the deployments `scheduling.py` applies.

    WorkPool("assetgraph-process", "process")
    WorkPool("assetgraph-ecs", "ecs", image="REGISTRY/assetgraph:TAG", job_variables={"cpu": 1024, "memory": 4096})

A pool's *type* picks the worker that runs it (`prefect worker start --pool NAME`): `process`
runs flows as subprocesses of the worker, in the directory the worker was started in (the
checkout); `docker`, `ecs`, `kubernetes` (and the other container types) run the project's
image (`Dockerfile`). Deployments never carry a path of the machine that applied them: the
flow is imported by module path (`assetgraph.execution.deployable.materialize_flow`) from the
installed package; a container pool's deployments step into the image's `workdir`; a process
pool's run in the worker's working directory (`working_dir: "."`).

Base job templates: a pool declared without one gets its type's default, from the worker
package installed here (`prefect` ships `process`), else from the copy of Prefect's worker
registry that ships inside the `prefect` package (docker, ecs, kubernetes, cloud-run, ...): read
from disk, never downloaded. Measured with Prefect 3.8: the server itself accepts a `docker` pool
with no template at all (it stores `{}` and then validates no job variable), and
`prefect work-pool create --type docker` asks the server, which tries to download the registry
first; sending the template ourselves gives the pool its variables (validated on every
deployment) with no network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from assetgraph.errors import WorkPoolError

__all__ = ["WorkPool", "Change", "FLOW_RUN_COMMAND", "base_job_template", "plan_pools", "apply_pools"]

FLOW_RUN_COMMAND = "prefect flow-run execute"
_REGISTRY_COPY = ("server", "api", "collections_data", "views", "aggregate-worker-metadata.json")


@dataclass(frozen=True)
class Change:
    """One difference between the code and the server. `fields`: name -> (server, code)."""

    action: str  # create | update | unchanged | delete
    name: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    kind: str = "deployment"  # deployment | work pool


@dataclass(frozen=True)
class WorkPool:
    name: str
    type: str
    image: str | None = None  # container types: the image every deployment on the pool runs
    job_variables: Mapping[str, Any] = field(default_factory=dict)  # given to each deployment
    base_job_template: Mapping[str, Any] | None = None  # None: the type's default
    workdir: str = "/opt/assetgraph"  # where the image holds the project (Dockerfile WORKDIR)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip() or self.name.lower().startswith("prefect"):
            raise WorkPoolError(self.name, "a work pool needs a name not starting with 'prefect'")
        if self.runs_image and not self.image:
            raise WorkPoolError(self.name, f"a {self.type} pool runs an image: give it one (image=...)")

    @property
    def runs_image(self) -> bool:
        return self.type != "process"

    def deployment_job_variables(self) -> dict[str, Any]:
        """The job variables each deployment on this pool carries."""
        if not self.runs_image:
            return {"working_dir": ".", **self.job_variables}
        return {**self.job_variables, "image": self.image, "command": FLOW_RUN_COMMAND}

    def pull_steps(self) -> list[dict[str, Any]]:
        if not self.runs_image:
            return []
        return [{"prefect.deployments.steps.set_working_directory": {"directory": self.workdir}}]


def _registry_templates() -> dict[str, dict[str, Any]]:
    from importlib.resources import files

    path = files("prefect").joinpath(*_REGISTRY_COPY)
    try:
        registry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        worker["type"]: worker["default_base_job_configuration"]
        for collection in registry.values() for worker in collection.values()
        if isinstance(worker, dict) and worker.get("type") and worker.get("default_base_job_configuration")
    }


def base_job_template(pool: WorkPool) -> dict[str, Any]:
    """The pool's declared template, else its type's default (see the module docstring)."""
    if pool.base_job_template is not None:
        return dict(pool.base_job_template)
    from prefect.workers.base import BaseWorker

    worker = BaseWorker.get_worker_class_from_type(pool.type)
    if worker is not None:
        return worker.get_default_base_job_template()
    known = _registry_templates()
    if pool.type in known:
        return known[pool.type]
    raise WorkPoolError(
        pool.name,
        f"unknown work pool type {pool.type!r} (known: {', '.join(sorted({'process', *known}))}); "
        "install its worker package or declare base_job_template",
    )


def _want(pool: WorkPool) -> dict[str, Any]:
    return {"type": pool.type, "base_job_template": base_job_template(pool), "description": pool.description or None}


def plan_pools(client: Any, pools: tuple[WorkPool, ...]) -> list[Change]:
    """create / update / unchanged per pool. A pool is never deleted (others' deployments may
    use it) and its type never changed (Prefect cannot: that is an error)."""
    from prefect.exceptions import ObjectNotFound

    changes = []
    for pool in pools:
        want = _want(pool)
        try:
            have = client.read_work_pool(pool.name)
        except ObjectNotFound:
            changes.append(Change("create", pool.name, {k: (None, v) for k, v in want.items()}, kind="work pool"))
            continue
        if have.type != pool.type:
            raise WorkPoolError(pool.name, f"exists on the server with type {have.type!r}, not {pool.type!r}; "
                                "Prefect cannot change a pool's type: delete it or use another name")
        server = {"type": have.type, "base_job_template": have.base_job_template, "description": have.description}
        diff = {k: (server[k], v) for k, v in want.items() if server[k] != v}
        changes.append(Change("update" if diff else "unchanged", pool.name, diff, kind="work pool"))
    return changes


def apply_pools(client: Any, pools: tuple[WorkPool, ...], changes: list[Change]) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate

    by_name = {p.name: p for p in pools}
    for change in changes:
        pool = by_name[change.name]
        if change.action == "create":
            client.create_work_pool(WorkPoolCreate(
                name=pool.name, type=pool.type, base_job_template=base_job_template(pool),
                description=pool.description or None,
            ))
        elif change.action == "update":
            client.update_work_pool(pool.name, WorkPoolUpdate(
                base_job_template=base_job_template(pool), description=pool.description or None,
            ))
