"""The data-quality gate of the shipped pipeline, as asset checks (collected by the loader).

Import-light on purpose: `assetgraph list` imports this module, so GX, pandas and SQLAlchemy are
imported only inside the check functions.

| check                                                   | source | blocking |
|---------------------------------------------------------|--------|----------|
| raw/signups:gx_* , raw/event_attendances:gx_*           | gx     | see suites.py |
| marts/van_source_code_assignments:gx_*                  | gx     | see suites.py |
| marts/van_source_code_assignments:volume_circuit_breaker| python | yes      |
"""

from __future__ import annotations

from assetgraph.definitions import AssetContext, asset_check
from assetgraph.specs import CheckResult
from quality.gate import suite_checks
from quality.suites import EVENTS_SUITE, MART_SUITE, SIGNUPS_SUITE

__all__ = ["signups_checks", "event_attendances_checks", "mart_checks", "volume_circuit_breaker"]

signups_checks = suite_checks(SIGNUPS_SUITE)
event_attendances_checks = suite_checks(EVENTS_SUITE)
mart_checks = suite_checks(MART_SUITE)


@asset_check("marts/van_source_code_assignments", name="volume_circuit_breaker", blocking=True)
def volume_circuit_breaker(context: AssetContext) -> CheckResult:
    """Block the sync when tonight's assignments exceed CIRCUIT_BREAKER_FACTOR x the mean of the
    last 7 successful syncs, or CIRCUIT_BREAKER_MAX_ROWS."""
    from quality.breaker import evaluate

    return evaluate(context.warehouse)
