"""The process that runs one run's dbt invocations: `python -m assetgraph.execution._dbt_worker`.

Why a process of its own: dbt's work in a run is CPU-bound Python (its import and parse, ~3 s
here, then compiling and rendering every node), and so are Prefect's and great-expectations'
imports in the run's own process. In one process they take turns on one GIL; here dbt has a
core of its own while the run imports Prefect, starts the flow run and imports GX (measured on
`materialize kind:dbt`, 2 cores: see benchmarks/README.md, P4).

Protocol, one JSON object per line:
- argv[1]: the JSON list of common arguments (`--project-dir ...`); the environment is dbt's.
- The worker parses the project once and writes `{"ready": true}` (or `{"ready": false,
  "error": "..."}` and exits 1). The manifest it parsed serves every later invocation.
- Then for every request line on stdin, `{"args": [...]}`, one reply line: `{"success": bool,
  "nodes": [...], "error": "first line of dbt's exception, or empty", "raised": bool}`.
- Replies go to the worker's original stdout; dbt's own console output is sent to stderr, so
  it can never corrupt a reply.
- stdin closed (the run ended, or its process died) ends the worker; so does its parent's
  end while an invocation runs (`exit_with_parent`), so a killed run never leaves it running.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from assetgraph._fast_exit import exit_now, exit_with_parent

__all__ = ["main", "node_dict", "first_line"]


def first_line(exc: object) -> str:
    """dbt's error on one line: a bare heading ("Compilation Error") takes the line after it."""
    if exc is None:
        return ""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if len(lines) > 1 and len(lines[0]) <= 40 and not lines[0].endswith((".", ":")):
        return f"{lines[0]}: {lines[1]}"
    return lines[0]


def node_dict(r: Any) -> dict[str, Any]:
    """One node's result, as `DbtNodeResult`'s fields."""
    adapter = getattr(r, "adapter_response", None) or {}
    rows = adapter.get("rows_affected") if isinstance(adapter, dict) else None
    return {
        "unique_id": r.node.unique_id,
        "resource_type": str(getattr(r.node, "resource_type", "")),
        "status": str(getattr(r.status, "value", r.status)),
        "message": str(r.message or ""),
        "failures": getattr(r, "failures", None),
        "rows_affected": rows if isinstance(rows, int) and rows >= 0 else None,
        "seconds": float(getattr(r, "execution_time", 0.0) or 0.0),
    }


def _reply(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def main(argv: list[str] | None = None) -> int:  # ends the process when stdin closes
    argv = sys.argv[1:] if argv is None else argv
    common, parent = json.loads(argv[0]), int(argv[1])
    exit_with_parent(parent)
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # dbt prints to stdout: send it to stderr, never into the replies
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke(["parse", "--quiet", *common])
    if not parsed.success or parsed.result is None:
        _reply(out, {"ready": False, "error": first_line(parsed.exception) or "see dbt logs"})
        return 1
    runner = dbtRunner(manifest=parsed.result)
    _reply(out, {"ready": True})
    for line in sys.stdin:
        if not line.strip():
            continue
        args = json.loads(line)["args"]
        try:
            res = runner.invoke(args)
            results = getattr(res.result, "results", None) or ()
            message = {"success": bool(res.success), "nodes": [node_dict(r) for r in results],
                       "error": first_line(res.exception), "raised": res.exception is not None}
        except Exception as exc:  # dbt raised past its runner: the invocation failed, the worker goes on
            message = {"success": False, "nodes": [], "error": first_line(exc), "raised": True}
        _reply(out, message)
    out.close()
    exit_now(0)  # stdin closed: the run is over; skip freeing dbt's manifest one object at a time


if __name__ == "__main__":
    sys.exit(main())
