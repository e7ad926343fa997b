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
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
