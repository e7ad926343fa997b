"""One exception base for data quality; subclasses carry structured fields and build their
own messages, so callers can both print and inspect them. Messages never contain row values."""

from __future__ import annotations

__all__ = [
    "QualityError",
    "SuiteDefinitionError",
    "ConfigValueError",
    "ValueSetError",
    "DataSourceError",
    "ValidationRunError",
    "ReportError",
]


class QualityError(Exception):
    """Base of every error the quality package raises on purpose."""


class SuiteDefinitionError(QualityError):
    """A suite or expectation spec is malformed (unknown GX class, duplicate check name...)."""

    def __init__(self, suite: str, reason: str) -> None:
        self.suite = suite
        self.reason = reason
        super().__init__(f"suite {suite}: {reason}")


class ConfigValueError(QualityError):
    """An environment setting (breaker factor, row bounds...) has an unusable value."""

    def __init__(self, variable: str, value: str, reason: str = "is not a valid number") -> None:
        self.variable = variable
        self.value = value
        self.reason = reason
        super().__init__(f"{variable}={value!r} {reason}")


class ValueSetError(QualityError):
    """The SQL that defines an expectation's value set (e.g. the seed's codes) failed."""

    def __init__(self, query: str, reason: str) -> None:
        self.query = query
        self.reason = reason
        super().__init__(f"cannot read value set ({query}): {reason}")


class DataSourceError(QualityError):
    """GX could not reach the warehouse table/query an asset's suite runs on."""

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"cannot validate {target}: {reason}")


class ValidationRunError(QualityError):
    """A whole suite validation raised (not a single expectation)."""

    def __init__(self, suite: str, reason: str) -> None:
        self.suite = suite
        self.reason = reason
        super().__init__(f"validation of suite {suite} failed to run: {reason}")


class ReportError(QualityError):
    """The data-quality report could not be built (e.g. no catalog rows for the run)."""

    def __init__(self, run_id: str, reason: str) -> None:
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"quality report for run {run_id}: {reason}")
