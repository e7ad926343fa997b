"""A Dagster-style asset layer on Prefect with dbt.

Import what you need to declare assets; the runner, CLI and catalog live in submodules and
are imported only when used (so `assetgraph list` never imports Prefect or dbt).
"""

from assetgraph.definitions import AssetContext, asset, asset_check
from assetgraph.errors import AssetGraphError
from assetgraph.keys import AssetKey, CheckKey
from assetgraph.specs import (
    AssetKind,
    AssetSpec,
    CheckResult,
    CheckSeverity,
    CheckSpec,
    CheckStatus,
    DailyPartitions,
    FreshnessPolicy,
    MaterializeResult,
)

__all__ = [
    "AssetContext", "asset", "asset_check", "AssetGraphError", "AssetKey", "CheckKey",
    "AssetKind", "AssetSpec", "CheckResult", "CheckSeverity", "CheckSpec", "CheckStatus",
    "DailyPartitions", "FreshnessPolicy", "MaterializeResult",
]
