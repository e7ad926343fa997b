"""Running a selection: plan (pure), steps (no Prefect), and a thin Prefect flow."""

from assetgraph.execution.outcomes import AssetStatus, CheckOutcome, RunReport, StepOutcome
from assetgraph.execution.plan import Plan, Step, build_plan
from assetgraph.execution.runner import check, materialize, plan_selection

__all__ = [
    "AssetStatus", "CheckOutcome", "RunReport", "StepOutcome", "Plan", "Step", "build_plan",
    "materialize", "plan_selection", "check",
]
