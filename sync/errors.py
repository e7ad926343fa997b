"""Errors of the EveryAction sync. Messages never contain the API key or personal data."""

from __future__ import annotations

__all__ = ["SyncError", "SyncConfigError", "SyncLockedError", "FailureFractionExceeded", "RequestFailed", "SlotWaitTimeout"]


class SyncError(Exception):
    """Base of every error the sync raises on purpose."""

    transient = False  # deterministic unless a subclass says otherwise (assetgraph.execution.failures)


class SyncConfigError(SyncError):
    def __init__(self, variable: str, reason: str) -> None:
        self.variable = variable
        self.reason = reason
        super().__init__(f"{variable}: {reason}")


class SyncLockedError(SyncError):
    transient = True  # the other run ends; a later attempt gets the lock

    def __init__(self) -> None:
        super().__init__("another van_source_codes sync holds the lock; not starting a second one")


class FailureFractionExceeded(SyncError):
    def __init__(self, failed: int, total: int, limit: float) -> None:
        self.failed, self.total, self.limit = failed, total, limit
        super().__init__(
            f"{failed} of {total} codes were not applied ({failed / max(total, 1):.1%}),"
            f" more than the allowed {limit:.1%}; see sync.van_sync_ledger"
        )


class RequestFailed(SyncError):
    def __init__(self, method: str, path: str, reason: str, attempts: int) -> None:
        self.method, self.path, self.reason, self.attempts = method, path, reason, attempts
        # refused credentials (HTTP 4xx) stay refused; no answer at all may come back
        self.transient = not reason.startswith("HTTP 4")
        super().__init__(f"{method} {path} failed after {attempts} attempt(s): {reason}")


class SlotWaitTimeout(SyncError):
    """A bounded wait on the Prefect global concurrency limit ran out: no slot was free in time,
    or the Prefect API did not answer. Transient: the requests waiting for a slot were not sent,
    and running again is safe (it reconciles the slots first)."""

    transient = True

    def __init__(self, limit: str, reason: str) -> None:
        self.limit, self.reason = limit, reason
        super().__init__(f"concurrency limit {limit!r}: {reason}; codes waiting for a slot were not sent, running again is safe")
