"""Start a run's slow one-time setup in the background, so it overlaps the run's first steps.

Measured on `assetgraph materialize kind:dbt` (2 cores): a plugin check's engine
(great-expectations, ~4 s to import here) was paid in line by the first GX check. Started here,
when the plan is known, it runs while Prefect starts the flow run and while earlier steps wait
on the warehouse or on dbt (whose import and parse happen in its own worker process, `_dbt`).
Only what the plan needs: a run without a check that names a module in
`CheckSpec.warm_imports` never imports it.

The runner imports Prefect first (`_prefect.preload_prefect`), so this thread's imports do not
race the main thread's: per-module import locks can deadlock two threads that take a circular
import in opposite orders.

A failure here is ignored: the check that needs the module imports it again in line and
reports the error where it belongs.
"""

from __future__ import annotations

import importlib
import threading
from typing import Iterable

__all__ = ["warm_up"]


def warm_up(modules: Iterable[str]) -> threading.Thread | None:
    """Import `modules` on a daemon thread."""
    names = sorted(set(modules))
    if not names:
        return None

    def work() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # the check that needs it reports it
                pass

    thread = threading.Thread(target=work, name="assetgraph-warm-up", daemon=True)
    thread.start()
    return thread
