"""The benchmark harness: every measure as one row (ours, a baseline from the same run, the ratio,
the goal), one table on the terminal and `benchmarks/results.json` with the machine it ran on.

A benchmark is a function `(quick: bool) -> list[Measure]` registered in `benchmarks/__main__.py`.
A benchmark that raises is shown as FAILED (with its error in results.json) and the others
still run; the exit code is then non-zero.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

__all__ = ["Measure", "Benchmark", "machine", "run_all", "render_table", "write_results"]


@dataclass(frozen=True)
class Measure:
    id: str  # "P1", "P2a", ...
    name: str
    ours: float | None
    baseline: float | None
    baseline_name: str
    unit: str
    goal: str = ""  # e.g. ">= 0.7"; compared with the ratio
    detail: str = ""
    status: str = "measured"  # measured | FAILED | "not measured: <why>"

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.baseline:
            return None
        return self.ours / self.baseline

    @property
    def goal_met(self) -> bool | None:
        if not self.goal or self.ratio is None:
            return None
        op, _, value = self.goal.partition(" ")
        target = float(value)
        return {">=": self.ratio >= target, "<=": self.ratio <= target, "<": self.ratio < target}[op]

    def as_json(self) -> dict:
        return {**dataclasses.asdict(self), "ratio": self.ratio, "goal_met": self.goal_met}


@dataclass(frozen=True)
class Benchmark:
    ids: tuple[str, ...]
    title: str
    run: Callable[[bool], list[Measure]]


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib, "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}", "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run_all(benchmarks: Sequence[Benchmark], quick: bool, only: Iterable[str] | None = None) -> list[Measure]:
    wanted = {w.upper() for w in only} if only else None
    out: list[Measure] = []
    for b in benchmarks:
        if wanted is not None and not wanted & {i.upper() for i in b.ids}:
            continue
        print(f"\n=== {', '.join(b.ids)}: {b.title} ===", flush=True)
        t0 = time.perf_counter()
        try:
            measures = b.run(quick)
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc(limit=3, file=sys.stdout)
            measures = [Measure(b.ids[0], b.title, None, None, "", "", status="FAILED",
                                detail=f"{type(exc).__name__}: {str(exc)[:200]}")]
        print(f"({time.perf_counter() - t0:.0f} s)", flush=True)
        out.extend(measures)
    return out


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("rows/s", "req/s", "MiB", "KiB"):
        return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"
    return f"{value:,.3g} {unit}" if unit else f"{value:,.3g}"


def render_table(measures: Sequence[Measure]) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    table = Table(title="benchmarks: ours vs a baseline measured in the same run")
    for col in ("id", "measure", "ours", "baseline", "ratio", "goal", "met"):
        table.add_column(col, justify="right" if col in ("ours", "baseline", "ratio") else "left")
    for m in measures:
        if m.status != "measured":
            table.add_row(m.id, m.name, m.status, "", "", "", "", style="red" if m.status == "FAILED" else "dim")
            continue
        met = {True: "yes", False: "NO", None: "-"}[m.goal_met]
        table.add_row(
            m.id, m.name, _fmt(m.ours, m.unit),
            f"{_fmt(m.baseline, m.unit)} ({m.baseline_name})" if m.baseline is not None else "-",
            "-" if m.ratio is None else f"{m.ratio:.2f}x", m.goal or "-", met,
        )
    buf = StringIO()
    Console(file=buf, width=160, force_terminal=False).print(table)
    return buf.getvalue()


def write_results(path: Path, measures: Sequence[Measure], quick: bool, argv: Sequence[str]) -> None:
    data = {
        "machine": machine(), "quick": quick, "command": "python -m benchmarks " + " ".join(argv),
        "measures": [m.as_json() for m in measures],
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
