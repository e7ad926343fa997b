"""The benchmark harness: every measure as one row (ours, a baseline from the same run, the ratio,
the goal), one table on the terminal and `benchmarks/results.json` with the machine it ran on.

A benchmark is a function `(sizes: dict, ids: frozenset[str]) -> list[Measure]` registered in
`benchmarks/__main__.py` with the measure ids it produces and its default and `--quick` sizes;
`ids` says which of its measures were asked for (`--only`). A benchmark that raises is shown as
FAILED (with its error in results.json) and the others still run; the exit code is then non-zero.
A measure the issue asks for that no benchmark produced is shown as "not yet measured".
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

__all__ = ["Measure", "Benchmark", "Run", "machine", "run_all", "render_table", "write_results", "NOT_YET"]

NOT_YET = "not yet measured"


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
    status: str = "measured"  # measured | FAILED | "not yet measured" | "not measured: <why>"
    data: dict = dataclasses.field(default_factory=dict)  # the raw figures behind it, for results.json

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
    run: Callable[[dict, frozenset[str]], list[Measure]]
    sizes: dict = dataclasses.field(default_factory=dict)  # the default sizes (~10 min in all on 2 cores)
    quick: dict = dataclasses.field(default_factory=dict)  # --quick: tiny, only proves it runs

    def sizes_for(self, quick: bool, overrides: dict | None = None) -> dict:
        sizes = {**self.sizes, **(self.quick if quick else {})}
        for key, value in (overrides or {}).items():
            if key in sizes:
                sizes[key] = _cast(sizes[key], value)
        return sizes


def _cast(default: object, value: str) -> object:
    """An override given as text, as the type of the default (`bool("no")` would be True)."""
    if isinstance(default, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {value!r}")
    return type(default)(value)


@dataclass(frozen=True)
class Run:
    """What one benchmark did: its measures, the sizes it ran with, its wall time."""

    benchmark: Benchmark
    measures: list[Measure]
    sizes: dict
    seconds: float


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


def run_all(benchmarks: Sequence[Benchmark], quick: bool, only: Iterable[str] | None = None,
            overrides: dict | None = None, expected: Iterable[str] = ()) -> list[Run]:
    """Run every benchmark that has a wanted id; one FAILED row for a benchmark that raises; a
    "not yet measured" row for each `expected` id (wanted) that nothing produced."""
    wanted = {w.strip().upper() for w in only if w.strip()} if only else None
    runs: list[Run] = []
    for b in benchmarks:
        ids = frozenset(i for i in b.ids if wanted is None or i.upper() in wanted)
        if not ids:
            continue
        sizes = b.sizes_for(quick, overrides)
        print(f"\n=== {', '.join(i for i in b.ids if i in ids)}: {b.title} ({_sizes_text(sizes)}) ===", flush=True)
        t0 = time.perf_counter()
        try:
            measures = [m for m in b.run(sizes, ids) if m.id in ids]
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc(limit=3, file=sys.stdout)
            error = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            measures = [Measure(i, b.title, None, None, "", "", status="FAILED", detail=error) for i in sorted(ids)]
        seconds = time.perf_counter() - t0
        print(f"({seconds:.0f} s)", flush=True)
        runs.append(Run(b, measures, sizes, seconds))
    seen = {m.id.upper() for r in runs for m in r.measures}
    missing = [i for i in expected if i.upper() not in seen and (wanted is None or i.upper() in wanted)]
    if missing:
        placeholder = Benchmark(tuple(missing), NOT_YET, lambda sizes, ids: [])
        runs.append(Run(placeholder, [Measure(i, "-", None, None, "", "", status=NOT_YET) for i in missing], {}, 0.0))
    return runs


def _sizes_text(sizes: dict) -> str:
    return ", ".join(f"{k}={v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}={v}"
                     for k, v in sizes.items()) or "no sizes"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("rows/s", "req/s", "MiB", "KiB"):
        return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"
    return f"{value:,.3g} {unit}" if unit else f"{value:,.3g}"


def render_table(measures: Sequence[Measure], title: str = "benchmarks: ours vs a baseline measured in the same run") -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
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


def machine_line(data: dict) -> str:
    m = data["machine"]
    return (f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}, {m['os']},"
            f" {m['date']}; {data['seconds']:.0f} s in all")


def render_markdown(data: dict) -> str:
    """The table of a results.json, as Markdown (for the README: numbers the command produced)."""
    lines = [
        "| id | measure | ours | baseline | ratio | goal | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for m in data["measures"]:
        if m["status"] != "measured":
            lines.append(f"| {m['id']} | {m['name']} | {m['status']} | | | | |")
            continue
        baseline = _fmt(m["baseline"], m["unit"]) if m["baseline"] is not None else "-"
        if m["baseline"] is not None and m["baseline_name"]:
            baseline += f" ({m['baseline_name']})"
        ratio = "-" if m["ratio"] is None else f"{m['ratio']:.2f}×"
        met = {True: "yes", False: "**no**", None: "-"}[m["goal_met"]]
        name = m["name"].replace("|", "\\|")
        lines.append(f"| {m['id']} | {name} | {_fmt(m['ours'], m['unit'])} | {baseline} | {ratio} |"
                     f" {m['goal'] or '-'} | {met} |")
    quick = " (--quick: tiny sizes, ratios not meaningful)" if data.get("quick") else ""
    lines += ["", f"`{data['command']}`{quick} on {machine_line(data)}."]
    return "\n".join(lines)


def write_results(path: Path, runs: Sequence[Run], quick: bool, argv: Sequence[str]) -> dict:
    data = {
        "machine": machine(), "quick": quick, "command": " ".join(["python -m benchmarks", *argv]),
        "seconds": round(sum(r.seconds for r in runs), 1),
        "benchmarks": [
            {"ids": list(r.benchmark.ids), "title": r.benchmark.title, "sizes": r.sizes, "seconds": round(r.seconds, 1)}
            for r in runs if r.benchmark.title != NOT_YET
        ],
        "measures": [m.as_json() for r in runs for m in r.measures],
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return data
