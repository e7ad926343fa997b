"""What an asset and a check *are*, without the code that produces them.

`AssetSpec` holds no function, `CheckSpec` no execution, `CheckResult` only the outcome.
All are frozen; change them with `dataclasses.replace` (`spec.replace(...)`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from assetgraph.errors import AssetGraphError
from assetgraph.keys import AssetKey, CheckKey, CoercibleToAssetKey

__all__ = [
    "AssetKind",
    "AssetSpec",
    "CheckSeverity",
    "CheckStatus",
    "CheckSpec",
    "CheckResult",
    "DailyPartitions",
    "FreshnessPolicy",
    "MaterializeResult",
]


class AssetKind(str, enum.Enum):
    PYTHON = "python"
    DBT = "dbt"
    SYNC = "sync"
    SOURCE = "source"  # declared but landed outside this graph: observed, never materialized


@dataclass(frozen=True)
class FreshnessPolicy:
    """An asset is stale when its last successful materialization is older than this."""

    max_lag_hours: float

    def is_stale(self, last_success: dt.datetime | None, now: dt.datetime) -> bool:
        if last_success is None:
            return True
        return (now - last_success) > dt.timedelta(hours=self.max_lag_hours)


@dataclass(frozen=True)
class DailyPartitions:
    """Daily partitions keyed `YYYY-MM-DD`, starting at `start`."""

    start: str

    def __post_init__(self) -> None:
        self.parse(self.start)

    @staticmethod
    def parse(value: str) -> dt.date:
        try:
            return dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            raise AssetGraphError(f"partition {value!r} is not a date (YYYY-MM-DD)") from None

    def keys_between(self, first: str, last: str) -> list[str]:
        lo, hi = self.parse(first), self.parse(last)
        if hi < lo:
            raise AssetGraphError(f"--to {last} is before --from {first}")
        if lo < self.parse(self.start):
            raise AssetGraphError(f"partition {first} is before the first partition {self.start}")
        return [(lo + dt.timedelta(days=i)).isoformat() for i in range((hi - lo).days + 1)]


@dataclass(frozen=True)
class AssetSpec:
    key: AssetKey
    deps: tuple[AssetKey, ...] = ()
    kind: AssetKind = AssetKind.PYTHON
    group: str = "default"
    tags: frozenset[str] = frozenset()
    owners: tuple[str, ...] = ()
    description: str = ""
    freshness: FreshnessPolicy | None = None
    partitions: DailyPartitions | None = None
    retries: int = 0
    code_version: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        key: CoercibleToAssetKey,
        *,
        deps: Iterable[CoercibleToAssetKey] = (),
        kind: AssetKind | str = AssetKind.PYTHON,
        group: str | None = None,
        tags: Iterable[str] = (),
        owners: Iterable[str] = (),
        description: str = "",
        freshness: FreshnessPolicy | None = None,
        partitions: DailyPartitions | None = None,
        retries: int = 0,
        code_version: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> "AssetSpec":
        """Keyword-only constructor that coerces and validates."""
        akey = AssetKey.from_coercible(key)
        if retries < 0:
            raise AssetGraphError(f"{akey}: retries must be >= 0")
        dep_keys = tuple(dict.fromkeys(AssetKey.from_coercible(d) for d in deps))
        if akey in dep_keys:
            raise AssetGraphError(f"{akey} cannot depend on itself")
        return cls(
            key=akey,
            deps=dep_keys,
            kind=AssetKind(kind),
            group=group or (akey.parts[0] if len(akey.parts) > 1 else "default"),
            tags=frozenset(tags),
            owners=tuple(owners),
            description=description,
            freshness=freshness,
            partitions=partitions,
            retries=retries,
            code_version=code_version,
            metadata=dict(metadata or {}),
        )

    def replace(self, **changes: Any) -> "AssetSpec":
        return dataclasses.replace(self, **changes)


class CheckSeverity(str, enum.Enum):
    WARN = "warn"
    ERROR = "error"


class CheckStatus(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # the check itself could not run: never a silent pass
    SKIPPED = "skipped"
    OVERRIDDEN = "overridden"  # failed, but an operator allowed it explicitly


@dataclass(frozen=True)
class CheckSpec:
    key: CheckKey
    blocking: bool = True
    description: str = ""
    source: str = "python"  # python | dbt | gx
    extra_deps: tuple[AssetKey, ...] = ()
    # Modules the check's function imports when it runs. A run whose plan includes the check
    # imports them in the background from its start, so a heavy import (a plugin's engine)
    # overlaps the upstream steps instead of delaying the check; a run without it never does.
    warm_imports: tuple[str, ...] = ()

    @property
    def asset(self) -> AssetKey:
        return self.key.asset

    @property
    def severity(self) -> CheckSeverity:
        return CheckSeverity.ERROR if self.blocking else CheckSeverity.WARN


@dataclass(frozen=True)
class CheckResult:
    """Only the outcome of a check."""

    status: CheckStatus
    message: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def passed(cls, message: str = "", **metadata: Any) -> "CheckResult":
        return cls(CheckStatus.PASSED, message, metadata)

    @classmethod
    def failed(cls, message: str = "", **metadata: Any) -> "CheckResult":
        return cls(CheckStatus.FAILED, message, metadata)

    @classmethod
    def errored(cls, message: str, **metadata: Any) -> "CheckResult":
        return cls(CheckStatus.ERROR, message, metadata)

    @property
    def ok(self) -> bool:
        return self.status in (CheckStatus.PASSED, CheckStatus.OVERRIDDEN)


@dataclass(frozen=True)
class MaterializeResult:
    """What an asset function returns: how many rows, plus free-form metadata (no PII)."""

    row_count: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    check_results: Mapping[str, CheckResult] = field(default_factory=dict)
