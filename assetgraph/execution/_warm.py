"""Start a run's slow one-time setup in the background, so it overlaps the run's first steps.

Measured on `assetgraph materialize kind:dbt` (2 cores): importing dbt and its first in-process
parse (~2-3 s under load) and a plugin check's engine (great-expectations, ~2-4 s) were paid in
line, by the first dbt step and by the first GX check. Started here, when the plan is known,
they run while Prefect starts the flow run and while earlier steps wait on the warehouse. Only
what the plan needs: a run without dbt steps never imports dbt, one without a check that names
a module in `CheckSpec.warm_imports` never imports it.

The runner imports Prefect first (`_prefect.preload_prefect`), so this thread's imports do not
race the main thread's: per-module import locks can deadlock two threads that take a circular
import in opposite orders.

A failure here is ignored: the step that needs the module or the runner does the same work
again in line and reports the error where it belongs.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Iterable

__all__ = ["warm_up"]


def warm_up(modules: Iterable[str], dbt: Any = None) -> threading.Thread | None:
    """Import `modules` and prepare `dbt` (a `DbtInvoker`, or None) on a daemon thread."""
    names = sorted(set(modules))
    if not names and dbt is None:
        return None

    def work() -> None:
        if dbt is not None:
            try:
                dbt.prepare()
            except Exception:  # the first dbt step reports it
                pass
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # the check that needs it reports it
                pass

    thread = threading.Thread(target=work, name="assetgraph-warm-up", daemon=True)
    thread.start()
    return thread
