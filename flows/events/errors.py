"""Errors of the events-API extraction (`raw/event_attendances`).

Every message names the request by method and URL *path* (query kept, scheme, host, user info
and secret-looking query parameters dropped: see `safe_url`), the HTTP status and the number
of attempts. No message ever holds the API token or a person's data (names, emails, phones):
records are referred to by their attendance id or their position on a page.

These subclass `Exception` for now; they are meant to move under `flows.landing.errors.ExtractionError`.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "safe_url",
    "EventsError",
    "EventsConfigError",
    "EventsApiError",
    "EventsAuthError",
    "EventsRequestError",
    "EventsRetriesExhaustedError",
    "EventsResponseError",
    "EventsLoadError",
    "EventsQuarantineThresholdError",
    "EventsEmptyResultError",
]

_SECRET_PARAMS = ("token", "key", "secret", "password", "auth", "signature", "sig")


def safe_url(url: str) -> str:
    """`path?query` of `url` without scheme, host, user info or secret-looking parameters."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not any(s in k.lower() for s in _SECRET_PARAMS)
    ]
    path = parts.path or "/"
    return f"{path}?{urlencode(query)}" if query else path


class EventsError(Exception):
    """Base of every error the events extraction raises on purpose."""

    transient = False  # deterministic unless a subclass says otherwise (assetgraph.execution.failures)


class EventsConfigError(EventsError):
    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"{setting}: {reason}")


# -- the API -------------------------------------------------------------------------------------


class EventsApiError(EventsError):
    """A request to the events API failed. `path` is already made safe by `safe_url`."""

    def __init__(self, message: str, *, method: str, path: str, status: int | None, attempts: int) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.attempts = attempts
        super().__init__(message)


class EventsAuthError(EventsApiError):
    """401/403: the token was refused. Never retried."""

    def __init__(self, *, method: str, path: str, status: int) -> None:
        super().__init__(
            f"events API refused the credentials (HTTP {status}) for {method} {path}; "
            "check EVENTS_API_TOKEN and EVENTS_ORG_ID",
            method=method, path=path, status=status, attempts=1,
        )


class EventsRequestError(EventsApiError):
    """Any other 4xx: the request itself is wrong (unknown organization, bad parameter)."""

    def __init__(self, *, method: str, path: str, status: int, detail: str = "") -> None:
        self.detail = detail
        more = f": {detail}" if detail else ""
        super().__init__(
            f"events API rejected {method} {path} with HTTP {status}{more}",
            method=method, path=path, status=status, attempts=1,
        )


class EventsRetriesExhaustedError(EventsApiError):
    """429, 5xx, timeouts or connection errors went on for every allowed attempt."""

    transient = True

    def __init__(self, *, method: str, path: str, status: int | None, attempts: int, last_error: str,
                 pages_fetched: int = 0) -> None:
        self.last_error = last_error
        self.pages_fetched = pages_fetched
        what = f"HTTP {status}" if status is not None else last_error
        after = f" after {pages_fetched} page(s) were fetched" if pages_fetched else ""
        super().__init__(
            f"events API request {method} {path} failed with {what} on all {attempts} attempts{after}; "
            "nothing was landed",
            method=method, path=path, status=status, attempts=attempts,
        )


class EventsResponseError(EventsApiError):
    """A 2xx response that is not the documented shape, or a `next` link that cannot be followed."""

    def __init__(self, *, method: str, path: str, reason: str, status: int | None = None) -> None:
        self.reason = reason
        super().__init__(f"events API response to {method} {path} is unusable: {reason}",
                         method=method, path=path, status=status, attempts=1)


# -- landing -------------------------------------------------------------------------------------


class EventsLoadError(EventsError):
    """The warehouse side of the load failed (schema mismatch, unexpected table shape)."""


class EventsQuarantineThresholdError(EventsLoadError):
    def __init__(self, bad: int, total: int, limit: float, reasons: Mapping[str, int], load_id: str) -> None:
        self.bad = bad
        self.total = total
        self.limit = limit
        self.reasons = dict(reasons)
        self.load_id = load_id
        share = bad / total if total else 1.0
        top = "; ".join(f"{n} x {r}" for r, n in sorted(self.reasons.items(), key=lambda x: -x[1])[:3])
        super().__init__(
            f"{bad} of {total} attendance records ({share:.2%}) could not be parsed, more than the "
            f"limit of {limit:.2%} (EVENTS_MAX_QUARANTINE_FRACTION) (most common: {top}); nothing "
            f"was landed; see raw._quarantine where load_id = '{load_id}'"
        )


class EventsEmptyResultError(EventsLoadError):
    def __init__(self, existing_rows: int) -> None:
        self.existing_rows = existing_rows
        super().__init__(
            f"the events API returned no attendances, but raw.event_attendances holds "
            f"{existing_rows} rows; refusing to empty it (wrong EVENTS_ORG_ID? set "
            "EVENTS_ALLOW_EMPTY_LOAD=1 to allow it); nothing was changed"
        )
