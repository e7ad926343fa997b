"""Process-wide defaults set before dbt or Prefect are imported: telemetry off, quiet logs."""

from __future__ import annotations

import os
import warnings

DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_UI_ENABLED": "false",
}


def apply_defaults() -> None:
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    # platformdirs warns on every call when XDG_RUNTIME_DIR is unset (containers, CI) and then
    # uses /tmp/runtime-<uid>; point it there explicitly: same directory, no warning.
    if not os.environ.get("XDG_RUNTIME_DIR") and hasattr(os, "getuid"):
        runtime = f"/tmp/runtime-{os.getuid()}"
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = runtime
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import logging

    for noisy in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def drain_prefect_services(timeout: float = 15.0) -> None:
    """Send the events and logs still queued in this process to the Prefect API now, while a
    temporary (ephemeral) server is still up, instead of at interpreter exit after it stopped."""
    import sys

    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (EventsWorker, APILogWorker):
        try:
            service.drain_all(timeout=timeout)
        except Exception:  # pragma: no cover - best effort at shutdown
            pass
