"""A small client for a Mobilize-America-style attendances API: pages, timeouts, retries.

Why not parsons' `MobilizeAmerica` connector: its base URL can be changed (`.uri`), but each
request is a bare `requests.request` with no timeout (a stalled server hangs the nightly run)
and `raise_for_status()` on the first 429 or 5xx (no retry, `Retry-After` ignored), and
`get_attendances` collects every page in memory before returning. This client keeps those parts
small and explicit:

- every request has a (connect, read) timeout;
- 429 waits for an integer `Retry-After` (capped by `RetryPolicy.max_retry_after`; without a
  usable header, the backoff below), 5xx, timeouts and connection errors wait a bounded
  exponential backoff with jitter; at most `RetryPolicy.max_attempts` attempts per request;
- 401/403 raise `EventsAuthError` at once, other 4xx `EventsRequestError`;
- pagination follows `next` and refuses a link to another origin (the token would go with it)
  or one already fetched (a loop);
- errors and log lines name the method and URL path (`safe_url`), status and attempts, never
  the token (sent only in the `Authorization` header) nor response bodies that may hold
  personal data.

    with EventsApiClient(base_url, token) as client:
        for page in client.iter_pages(org_id=42):
            ...page.records...
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urlencode, urlsplit

import requests

from flows.events.errors import (
    EventsAuthError,
    EventsRequestError,
    EventsResponseError,
    EventsRetriesExhaustedError,
    safe_url,
)

__all__ = ["RetryPolicy", "Page", "ClientStats", "EventsApiClient"]

_log = logging.getLogger("flows.events.client")


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per request (the first included) and how long to wait between them."""

    max_attempts: int = 6
    base_delay: float = 0.5  # first backoff, doubled on each further attempt
    max_delay: float = 30.0  # cap of one backoff wait
    max_retry_after: float = 120.0  # cap of a server-requested wait
    jitter: float = 0.5  # a wait is drawn from [delay * (1 - jitter), delay]

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if min(self.base_delay, self.max_delay, self.max_retry_after) < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("delays must be >= 0 and jitter between 0 and 1")

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed attempt number `attempt` (1-based): bounded, with jitter."""
        delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return delay * (1 - self.jitter * rng.random())

    def retry_after(self, header: str | None) -> float | None:
        """An integer `Retry-After` in seconds, capped; None when absent or not an integer
        (HTTP dates are not honoured: clocks differ)."""
        if header is None or not header.strip().isdigit():
            return None
        return min(float(int(header.strip())), self.max_retry_after)


@dataclass(frozen=True)
class Page:
    number: int  # 1-based position in this crawl
    url: str  # path and query, made safe (no host, no secrets)
    count: int | None  # the API's total across all pages, as reported on this page
    records: tuple[Mapping[str, Any], ...]


@dataclass
class ClientStats:
    """What the client did, for run metadata (counts only)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    network_errors: int = 0
    waited_seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "api_requests": self.requests,
            "api_retries": self.retries,
            "api_rate_limited": self.rate_limited,
            "api_server_errors": self.server_errors,
            "api_network_errors": self.network_errors,
            "api_wait_seconds": round(self.waited_seconds, 3),
        }


class EventsApiClient:
    """Reads `GET {base_url}/organizations/{org_id}/attendances`, page by page."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        per_page: int = 100,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        log: logging.Logger | logging.LoggerAdapter | None = None,
    ) -> None:
        if not token:
            raise ValueError("an API token is required")
        if per_page < 1:
            raise ValueError("per_page must be >= 1")
        self.base_url = base_url.rstrip("/")
        self._origin = self._origin_of(self.base_url)
        self._token = token
        self.per_page = per_page
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._session = session or requests.Session()
        self._own_session = session is None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._log = log or _log
        self.stats = ClientStats()

    def __repr__(self) -> str:  # the token stays out of reprs, tracebacks and logs
        return f"EventsApiClient(base_url={safe_url(self.base_url)!r}, per_page={self.per_page})"

    def __enter__(self) -> "EventsApiClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_session:
            self._session.close()

    @staticmethod
    def _origin_of(url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.netloc.rsplit("@", 1)[-1]).lower()

    def attendances_url(self, org_id: int, *, updated_since: int | None = None) -> str:
        params: dict[str, Any] = {"per_page": self.per_page}
        if updated_since is not None:
            params["updated_since"] = int(updated_since)
        return f"{self.base_url}/organizations/{int(org_id)}/attendances?{urlencode(params)}"

    def iter_pages(self, org_id: int, *, updated_since: int | None = None) -> Iterator[Page]:
        """Every page of the organization's attendances, following `next` until it is null."""
        url: str | None = self.attendances_url(org_id, updated_since=updated_since)
        seen: set[str] = set()
        number = 0
        while url is not None:
            if url in seen:
                raise EventsResponseError(method="GET", path=safe_url(url),
                                          reason="`next` points to a page already fetched (a loop)")
            seen.add(url)
            if self._origin_of(url) != self._origin:
                raise EventsResponseError(method="GET", path=safe_url(url),
                                          reason="`next` points to another host; not sending the token there")
            number += 1
            body = self.get_json(url, pages_fetched=number - 1)
            data = body.get("data")
            if not isinstance(data, list):
                raise EventsResponseError(method="GET", path=safe_url(url), reason="`data` is not a list")
            nxt = body.get("next")
            if nxt is not None and not isinstance(nxt, str):
                raise EventsResponseError(method="GET", path=safe_url(url), reason="`next` is not a URL")
            count = body.get("count")
            yield Page(number=number, url=safe_url(url), count=count if isinstance(count, int) else None,
                       records=tuple(data))
            url = nxt or None

    def get_json(self, url: str, *, pages_fetched: int = 0) -> dict[str, Any]:
        """GET with retries; the decoded JSON object of a 2xx answer."""
        path = safe_url(url)
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            status: int | None = None
            wait: float | None = None
            try:
                response = self._session.get(url, headers=headers, timeout=self.timeout,
                                             allow_redirects=False)
            except requests.Timeout:
                problem = "a timeout"
                self.stats.network_errors += 1
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                problem = "a connection error"
                self.stats.network_errors += 1
            else:
                status = response.status_code
                self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    try:
                        body = response.json()
                    except ValueError:
                        raise EventsResponseError(method="GET", path=path, status=status,
                                                  reason="the body is not JSON") from None
                    if not isinstance(body, dict):
                        raise EventsResponseError(method="GET", path=path, status=status,
                                                  reason="the body is not a JSON object")
                    if body.get("error"):
                        raise EventsResponseError(method="GET", path=path, status=status,
                                                  reason="the body reports an error")
                    return body
                if status in (401, 403):
                    raise EventsAuthError(method="GET", path=path, status=status)
                if status != 429 and status < 500:
                    raise EventsRequestError(method="GET", path=path, status=status,
                                             detail=self._error_keys(response))
                problem = f"HTTP {status}"
                if status == 429:
                    self.stats.rate_limited += 1
                else:
                    self.stats.server_errors += 1
                if status in (429, 503):
                    wait = self.retry.retry_after(response.headers.get("Retry-After"))
                response.close()
            if attempt >= self.retry.max_attempts:
                raise EventsRetriesExhaustedError(method="GET", path=path, status=status, attempts=attempt,
                                                  last_error=problem, pages_fetched=pages_fetched)
            if wait is None:
                wait = self.retry.backoff(attempt, self._rng)
            self.stats.retries += 1
            self.stats.waited_seconds += wait
            self._log.warning("events API GET %s: %s (attempt %d of %d); retrying in %.1fs",
                              path, problem, attempt, self.retry.max_attempts, wait)
            self._sleep(wait)

    @staticmethod
    def _error_keys(response: requests.Response) -> str:
        """The names of the fields an error body complains about (never their values)."""
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            return ""
        if isinstance(error, dict):
            return "error fields: " + ", ".join(sorted(str(k) for k in error)[:5])
        return ""
