"""Run dbt nodes with dbt's programmatic runner in a worker process, with a manifest parsed
once per run.

Measured on this machine (3-model project, embedded Postgres): a `dbt build -s node`
subprocess costs ~3.1 s per node (interpreter start, imports, parse); the programmatic runner
with a preloaded manifest ~0.2-0.35 s per node, with per-node results.

The worker (`_dbt_worker`): the runner lives in one child process per run, started as soon as
the plan has a dbt step. dbt's import and parse, and its Python work on every node, then run on
another core than the run's own process, which meanwhile imports Prefect and
great-expectations and drives the flow run (in one process they took turns on one GIL).
Invocations are serialised (one worker, one at a time; a batch is chosen when its turn comes); Python assets still run in parallel
around them. A worker that dies (killed) fails the invocation with a transient error; the next
invocation starts a new worker.

Batching: every invocation has a fixed cost (selection, adapter and connection setup, ~0.3 s
here, more under load), so the nodes that start together are built by one invocation, the way
one `dbt build` would build them. The orchestrator announces them with `expect()`: the ready
dbt steps, and the dbt steps below them whose gates dbt itself enforces
(`plan.fusable_dbt_steps`). Each step's task still calls `build()` for its own node: the
first one builds the whole batch, the others get the shared result, so Prefect keeps one task
(state, retries, asset event) per asset. A retry, or a step nobody announced, runs alone. A
node the batch's dbt skipped (after an upstream failure that a retry or an override then
cleared) is built again alone by its own step.
JSON artifacts are not written by these invocations (`--no-write-json`): the manifest is the
one the run's parse wrote, and results come back in memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from assetgraph.dbt.project import dbt_env
from assetgraph.errors import DbtError

__all__ = ["DbtInvoker", "DbtNodeResult", "DbtRunResult", "DbtWorkerLost"]


@dataclass(frozen=True)
class DbtNodeResult:
    unique_id: str
    resource_type: str
    status: str  # success | error | skipped | pass | fail | warn | ...
    message: str
    failures: int | None
    rows_affected: int | None
    seconds: float


class DbtWorkerLost(DbtError):
    """The worker process died (killed, out of memory): transient, a new one starts."""

    transient = True


@dataclass(frozen=True)
class DbtRunResult:
    success: bool
    nodes: tuple[DbtNodeResult, ...] = ()
    error: str = ""
    invocation: int = 0  # which invocation of this run's invoker (1, 2, ...)
    selected: tuple[str, ...] = ()  # the selectors it was given
    command: str = ""  # build | test | ...

    def node(self, unique_id: str) -> DbtNodeResult | None:
        return next((n for n in self.nodes if n.unique_id == unique_id), None)

    @property
    def tests(self) -> tuple[DbtNodeResult, ...]:
        return tuple(n for n in self.nodes if n.resource_type in ("test", "unit_test"))


@dataclass
class DbtInvoker:
    project_dir: Path
    profiles_dir: Path
    target: str
    env: Mapping[str, str] = field(default_factory=dict)
    full_refresh: bool = False  # builds rebuild incremental models and reload seeds from scratch
    defer_state: Path | None = None  # `--defer --state DIR`: unselected refs resolve to DIR's relations
    history: list[DbtRunResult] = field(default_factory=list)  # every invocation's results, in order
    latest: dict[str, DbtRunResult] = field(default_factory=dict)  # selector -> the last ended invocation of it
    _lock: threading.Lock = field(default_factory=threading.Lock)  # one invocation at a time
    _worker: subprocess.Popen | None = None
    _ready: bool = False
    _invocations: int = 0
    _wave: "_Wave" = field(default_factory=lambda: _Wave())

    def _common(self) -> list[str]:
        return [
            "--project-dir", str(self.project_dir),
            "--profiles-dir", str(self.profiles_dir),
            "--target", self.target,
        ]

    def start(self) -> None:
        """Start the worker now: it imports dbt and parses while the run starts Prefect."""
        with self._lock:
            self._spawn()

    def _spawn(self) -> None:
        if self._worker is not None and self._worker.poll() is not None:
            self._stop()  # it died since its last reply
        if self._worker is None:
            env = {**os.environ, **dbt_env(self.env)}
            self._worker = subprocess.Popen(
                [sys.executable, "-m", "assetgraph.execution._dbt_worker", json.dumps(self._common()),
                 str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1,
            )
            self._ready = False

    def _read(self) -> dict[str, Any]:
        assert self._worker is not None and self._worker.stdout is not None
        line = self._worker.stdout.readline()
        if not line:
            code = self._worker.wait()
            self._stop()
            raise DbtWorkerLost("worker", f"the dbt worker process exited ({code})")
        return json.loads(line)

    def _ensure_ready(self) -> subprocess.Popen:
        self._spawn()
        if not self._ready:
            hello = self._read()
            if not hello.get("ready"):
                self._stop()
                raise DbtError("parse", hello.get("error") or "see dbt logs")
            self._ready = True
        assert self._worker is not None
        return self._worker

    def prepare(self) -> None:
        """Wait until the worker has parsed the project (it fails here if the parse failed)."""
        with self._lock:
            self._ensure_ready()

    def close(self) -> None:
        """End the worker (the run is over): it exits when its stdin closes."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        """The one place a worker ends, alive or dead: its pipes closed, the process reaped."""
        worker, self._worker = self._worker, None
        if worker is not None:
            try:
                if worker.stdin is not None:
                    worker.stdin.close()
                worker.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                worker.kill()
                worker.wait()
            if worker.stdout is not None:
                worker.stdout.close()

    def invoke(self, command: str, select: Sequence[str], extra: Sequence[str] = ()) -> DbtRunResult:
        with self._lock:
            return self._invoke(command, select, extra)

    def _invoke(self, command: str, select: Sequence[str], extra: Sequence[str]) -> DbtRunResult:
        """One invocation; the caller holds `_lock`."""
        args = [command, "--quiet", "--select", *select, *self._common(), *extra, *self._defer()]
        worker = self._ensure_ready()
        try:
            assert worker.stdin is not None
            worker.stdin.write(json.dumps({"args": args}) + "\n")
            worker.stdin.flush()
        except OSError:  # the worker died since its last reply
            self._stop()
            raise DbtWorkerLost(command, "the dbt worker process exited") from None
        reply = self._read()
        self._invocations += 1
        nodes = tuple(DbtNodeResult(**n) for n in reply.get("nodes", ()))
        if reply.get("raised") and not nodes:
            raise DbtError(command, reply.get("error") or "see dbt logs")
        result = DbtRunResult(success=bool(reply.get("success")), nodes=nodes, error=reply.get("error", ""),
                              invocation=self._invocations, selected=tuple(select), command=command)
        self.history.append(result)
        self.latest.update((sel, result) for sel in select)
        return result

    def _defer(self) -> list[str]:
        return ["--defer", "--state", str(self.defer_state)] if self.defer_state is not None else []

    def summary(self) -> list[dict[str, Any]]:
        """What dbt ran, invocation by invocation (its in-memory run results): for the catalog."""
        return [
            {"invocation": r.invocation, "command": r.command, "selected": list(r.selected),
             "nodes": {n.unique_id: n.status for n in r.nodes}}
            for r in self.history
        ]

    def build_many(self, selectors: Sequence[str]) -> DbtRunResult:
        with self._lock:
            return self._build(selectors)

    def _build(self, selectors: Sequence[str]) -> DbtRunResult:
        # "buildable": run the tests whose other parents are upstream of the node (e.g. a
        # relationships test to a seed), never tests of nodes that are not built yet.
        extra = ["--indirect-selection", "buildable", "--no-write-json"]
        return self._invoke("build", list(selectors), extra + (["--full-refresh"] if self.full_refresh else []))

    def expect(self, selectors: Sequence[str] | Callable[[frozenset[str]], Sequence[str]]) -> None:
        """Announce the nodes of a wave: their `build()` calls will be served by one invocation.
        Given a function, it is called (atomically) with the nodes announced earlier that have
        not started yet, which the same invocation will build, and returns what to announce."""
        self._wave.expect(selectors)

    def build(self, selector: str) -> DbtRunResult:
        """Build one node (and its tests); batched with the other nodes of its wave."""
        return self._wave.serve(selector, self._build, self._lock)

    def test(self, selectors: Sequence[str]) -> DbtRunResult:
        return self.invoke("test", list(selectors))


class _Wave:
    """Builds announced nodes together: the first announced step to call `serve()` runs every
    announced node not yet started in one invocation; the others find their result waiting.

    An announcement given as a function is asked again when its batch starts (holding the
    invoker's turn): an invocation that ended meanwhile may have let more nodes join (a node
    below two parents, the other of which was being built when the wave was announced).
    A node is built once per run through the wave: announcing it again (its step became ready
    after a batch built it) adds nothing; its step finds its result."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._announced: set[str] = set()
        self._in_flight: set[str] = set()
        self._taken: set[str] = set()  # every node a batch has built or is building
        self._plans: list[Callable[[frozenset[str]], Sequence[str]]] = []
        self._results: dict[str, tuple[DbtRunResult | None, BaseException | None]] = {}

    def expect(self, selectors: Sequence[str] | Callable[[frozenset[str]], Sequence[str]]) -> None:
        with self._cv:  # serve() takes the announced set under the same lock: no batch starts in between
            plan = selectors if callable(selectors) else (lambda _waiting, fixed=tuple(selectors): fixed)
            self._plans.append(plan)
            self._announce(plan)

    def _announce(self, plan: Callable[[frozenset[str]], Sequence[str]]) -> None:
        self._announced.update(s for s in plan(frozenset(self._announced)) if s not in self._taken)

    def serve(
        self, selector: str, run: Callable[[Sequence[str]], DbtRunResult], turn: threading.Lock | None = None
    ) -> DbtRunResult:
        """`turn`: held while `run` runs (the invoker's lock). The batch is chosen once the turn
        is ours, so the steps announced while an earlier invocation ran join this one."""
        with self._cv:
            while selector in self._in_flight:
                self._cv.wait()
            if selector in self._results:
                return _unpack(self._results.pop(selector))
        with turn if turn is not None else contextlib.nullcontext():
            with self._cv:
                if selector in self._results:  # an invocation took it while we waited for the turn
                    return _unpack(self._results.pop(selector))
                batch = [selector]
                if selector in self._announced:  # a retry, or a step nobody announced, runs alone
                    for plan in self._plans:  # ask again: an invocation that ended may let more join
                        self._announce(plan)
                    batch += sorted(self._announced - {selector})
                    self._announced.clear()
                    self._plans.clear()
                self._in_flight.update(batch)
                self._taken.update(batch)
            try:
                outcome: tuple[DbtRunResult | None, BaseException | None] = (run(batch), None)
            except BaseException as exc:  # every step of the batch sees the failure
                outcome = (None, exc)
            with self._cv:
                self._in_flight.difference_update(batch)
                self._results.update((s, outcome) for s in batch[1:])
                self._cv.notify_all()
        return _unpack(outcome)


def _unpack(outcome: tuple[DbtRunResult | None, BaseException | None]) -> DbtRunResult:
    result, error = outcome
    if error is not None:
        raise error
    assert result is not None
    return result
