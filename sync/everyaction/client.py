"""Applying one source code to one person through parsons' `VAN` client, with a timeout on
every request and bounded retries.

parsons' `VAN.apply_person_code(van_id, code_id)` sends `POST people/{id}/codes` with body
`{"codeId": N}`, no timeout and no retry, raises on any error status, and opens a new
connection per call. We build the `VAN` client as usual (its base URL, `default` / `KEY|1` basic
auth and headers) and send the same request with them on one keep-alive connection per worker
(sync/everyaction/transport.py: `requests` itself cost ~1.2 ms per call, measured), adding a timeout and
reading the status:

- 204: applied.  404: no such person.  400: bad code.  (permanent: recorded, not retried)
- 429: wait `Retry-After` (capped), else back off with jitter; 5xx: back off and retry.
- timeout / connection reset: the code *may* have been applied, so ask EveryAction
  (`GET people/{id}?$expand=codes`) before trying again.
- 401/403: the key is wrong: fail the whole sync (message without the key).
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sync.errors import RequestFailed, SyncConfigError
from sync.status import Status
from sync.everyaction.transport import Response, Transport, TransportError

__all__ = ["ClientConfig", "ApplyResult", "EveryActionClient"]

_URI_LOCK = threading.Lock()  # parsons reads its base URL from a module global at construction


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str = field(repr=False)
    db: str = "EveryAction"
    timeout: float = 10.0
    max_attempts: int = 6
    backoff_base: float = 0.25
    backoff_cap: float = 10.0
    retry_after_cap: float = 60.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> "ClientConfig":
        env = dict(os.environ if env is None else env)
        url = env.get("EVERYACTION_API_URL", "").strip()
        if not url:
            raise SyncConfigError("EVERYACTION_API_URL", "not set (base URL including /v4/)")
        key = env.get("EVERYACTION_API_KEY", "").strip() or _secret_block_key()
        if not key:
            raise SyncConfigError("EVERYACTION_API_KEY", "not set (or a Prefect Secret block 'everyaction-api-key')")
        db = env.get("EVERYACTION_DB", "EveryAction")
        if db not in ("EveryAction", "MyVoters"):
            raise SyncConfigError("EVERYACTION_DB", f"must be EveryAction or MyVoters, not {db!r}")
        timeout = float(env.get("EVERYACTION_TIMEOUT_SECONDS", "10"))
        return cls(base_url=url if url.endswith("/") else url + "/", api_key=key, db=db, timeout=timeout, **overrides)


def _secret_block_key() -> str:
    """The API key from a Prefect Secret block named `everyaction-api-key`, if there is one."""
    if not os.environ.get("PREFECT_API_URL"):
        return ""
    try:
        from prefect.blocks.system import Secret

        return str(Secret.load("everyaction-api-key").get())
    except Exception:
        return ""


def _parsons_headers(api: Any) -> dict[str, str]:
    """parsons' headers plus the `Authorization` its auth object puts on a request."""
    import requests

    prepared = requests.Request("POST", api.uri, headers=api.headers or {}, auth=api.auth).prepare()
    return {k: v for k, v in prepared.headers.items() if k.lower() not in ("content-length", "content-type")}


@dataclass(frozen=True)
class ApplyResult:
    status: str  # ledger Status value
    http_status: int | None
    error_code: str | None
    attempts: int
    retries: int
    already_applied: bool = False


class EveryActionClient:
    def __init__(self, config: ClientConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        import warnings

        with warnings.catch_warnings():
            # parsons warns at import that `pip install parsons` installs only core extras;
            # we install parsons[ngpvan], so the note is noise in every sync's output.
            warnings.simplefilter("ignore", RuntimeWarning)
            import parsons.ngpvan.van_connector as van_connector
            from parsons import VAN

        self.config = config
        self._sleep = sleep
        self._rng = random.Random()
        with _URI_LOCK:
            previous = van_connector.URI
            van_connector.URI = config.base_url
            try:
                self._van = VAN(api_key=config.api_key, db=config.db)
            finally:
                van_connector.URI = previous
        api = self._van.connection.api
        self._transport = Transport(api.uri, _parsons_headers(api), config.timeout)
        self.requests = 0

    # ---- helpers -------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def _send(self, method: str, path: str, **kwargs: Any) -> Response:
        self.requests += 1
        return self._transport.request(method, path, **kwargs)

    def close(self) -> None:
        self._transport.close()

    @staticmethod
    def _error_code(response: Any) -> str | None:
        try:
            return str(response.json()["errors"][0]["code"])[:64]
        except Exception:
            return None

    def _wait_for(self, response: Any, attempt: int) -> float:
        value = response.headers.get("Retry-After") or ""
        if value.strip().isdigit():
            return min(float(value), self.config.retry_after_cap)
        return self._backoff(attempt)

    # ---- API -----------------------------------------------------------------------------
    def has_code(self, van_id: int, code_id: int) -> bool:
        """Whether `code_id` is among the person's codes (retries like any request)."""
        path = f"people/{van_id}"
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                r = self._send("GET", path, params={"$expand": "codes"})
            except TransportError:
                self._sleep(self._backoff(attempt))
                continue
            if r.status_code == 200:
                return any(int(c.get("codeId", -1)) == code_id for c in (r.json().get("codes") or []))
            if r.status_code == 404:
                return False
            if r.status_code in (401, 403):
                raise RequestFailed("GET", f"/people/{van_id}", f"HTTP {r.status_code}: check EVERYACTION_API_KEY/EVERYACTION_DB", attempt)
            self._sleep(self._wait_for(r, attempt) if r.status_code == 429 else self._backoff(attempt))
        raise RequestFailed("GET", f"/people/{van_id}", "no answer after retries", self.config.max_attempts)

    def apply_code(self, van_id: int, code_id: int) -> ApplyResult:
        path = f"people/{van_id}/codes"
        retries = 0
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                r = self._send("POST", path, json={"codeId": code_id})
            except TransportError as exc:
                # The request may have reached EveryAction: give it a moment, then look
                # before trying again.
                self._sleep(self._backoff(attempt))
                try:
                    if self.has_code(van_id, code_id):
                        return ApplyResult(Status.APPLIED, None, None, attempt, retries, already_applied=True)
                except RequestFailed:
                    pass
                if attempt == self.config.max_attempts:
                    return ApplyResult(Status.FAILED, None, type(exc).__name__, attempt, retries)
                retries += 1
                continue
            status = r.status_code
            if status in (200, 201, 204):
                return ApplyResult(Status.APPLIED, status, None, attempt, retries)
            if status == 404:
                return ApplyResult(Status.NOT_FOUND, status, self._error_code(r), attempt, retries)
            if status == 400:
                return ApplyResult(Status.BAD_CODE, status, self._error_code(r), attempt, retries)
            if status in (401, 403):
                raise RequestFailed("POST", f"/people/{van_id}/codes", f"HTTP {status}: check EVERYACTION_API_KEY/EVERYACTION_DB", attempt)
            if attempt == self.config.max_attempts:
                return ApplyResult(Status.FAILED, status, self._error_code(r) or f"http_{status}", attempt, retries)
            retries += 1
            self._sleep(self._wait_for(r, attempt) if status == 429 else self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover
