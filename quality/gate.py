"""Turn suites into asset checks. Import-light: GX is imported only when a check runs.

`suite_checks(SUITE)` gives one `CheckDefinition` per expectation, with source "gx", so the
runner evaluates them right after the asset materializes and records them in the catalog next to
the dbt tests. A failed/errored blocking one skips everything downstream.
"""

from __future__ import annotations

from typing import Callable

from assetgraph.definitions import AssetContext, CheckDefinition
from assetgraph.keys import AssetKey, CheckKey
from assetgraph.specs import CheckResult, CheckSpec
from quality.suites import SuiteSpec

__all__ = ["suite_checks", "SOURCE_GX"]

SOURCE_GX = "gx"


def _runner(suite: SuiteSpec, check: str) -> Callable[[AssetContext], CheckResult]:
    def run(context: AssetContext) -> CheckResult:
        from quality.gx_engine import expectation_result

        return expectation_result(suite, check, context)

    run.__name__ = check
    run.__qualname__ = f"{suite.name}.{check}"
    return run


def suite_checks(suite: SuiteSpec) -> tuple[CheckDefinition, ...]:
    """One blocking-or-not GX check per expectation of `suite`, attached to `suite.asset`."""
    asset = AssetKey.from_coercible(suite.asset)
    extra = tuple(AssetKey.from_coercible(d) for d in suite.extra_deps)
    out: list[CheckDefinition] = []
    for exp in suite.expectations:
        spec = CheckSpec(
            key=CheckKey(asset, exp.check),
            blocking=exp.blocking,
            description=exp.description or exp.expected,
            source=SOURCE_GX,
            extra_deps=extra if exp.expectation == "UnexpectedRowsExpectation" else (),
            warm_imports=("quality.gx_engine",),  # GX: ~2 s to import, only in runs with a GX check
        )
        out.append(CheckDefinition(spec=spec, fn=_runner(suite, exp.check), origin=f"quality.suites.{suite.name}"))
    return tuple(out)

