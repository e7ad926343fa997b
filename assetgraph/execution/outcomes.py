"""What happened to each step and check of a run: plain values, shared by the runner, the
catalog writer and the CLI summary."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping

from assetgraph.keys import AssetKey, CheckKey
from assetgraph.specs import CheckResult, CheckStatus

__all__ = ["AssetStatus", "CheckOutcome", "StepOutcome", "RunReport"]


class AssetStatus(str, enum.Enum):
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"  # never called: an upstream asset failed or a blocking check failed
    DRY_RUN = "dry_run"


@dataclass(frozen=True)
class CheckOutcome:
    key: CheckKey
    blocking: bool
    source: str
    result: CheckResult

    @property
    def blocks(self) -> bool:
        return self.blocking and self.result.status in (CheckStatus.FAILED, CheckStatus.ERROR)


@dataclass(frozen=True)
class StepOutcome:
    key: AssetKey
    partition: str | None
    status: AssetStatus
    seconds: float = 0.0
    row_count: int | None = None
    message: str = ""
    attempts: int = 0
    checks: tuple[CheckOutcome, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def blocked_by(self) -> tuple[CheckKey, ...]:
        return tuple(c.key for c in self.checks if c.blocks)

    @property
    def ok_for_downstream(self) -> bool:
        return self.status in (AssetStatus.SUCCESS, AssetStatus.DRY_RUN) and not self.blocked_by


@dataclass(frozen=True)
class RunReport:
    run_id: str
    selection: str
    outcomes: tuple[StepOutcome, ...]
    seconds: float
    dry_run: bool = False

    @property
    def succeeded(self) -> bool:
        return all(o.ok_for_downstream for o in self.outcomes)

    @property
    def failed_checks(self) -> tuple[CheckOutcome, ...]:
        return tuple(c for o in self.outcomes for c in o.checks if c.blocks)
