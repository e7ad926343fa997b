"""Which failures a retry can fix, and how a failure reads on the console.

An asset's retries (`@asset(retries=N)`) are spent only on *transient* failures: a dropped
connection, a timeout, an HTTP 5xx/429, a lock held by another run. A *deterministic* failure
(a malformed file, a bad setting, a failed check, a bug) fails the same way on every attempt,
so it fails at once: no waiting, no second quarantine of the same rows.

The classification, first match wins, walking the error and its causes (`__cause__`, then
`__context__`):

1. an exception that says so itself: a boolean `transient` attribute (class or instance).
   Plugins set it on their own error bases (`flows.errors`, `sync.errors`, ...); the core never
   imports them.
2. connection and timeout errors of the standard library, requests, httpx and urllib3;
3. HTTP errors carrying a status (`.status`, `.status_code` or `.response.status_code`) of
   408, 429 or 5xx;
4. database errors whose SQLSTATE says connection lost (08), serialization failure or deadlock
   (40), out of resources (53), lock not available (55P03), statement or lock timeout (57014),
   server shutting down (57P); or a psycopg2 `OperationalError` without a SQLSTATE that is not
   about credentials or a missing database (the server could not be reached).

Everything else is deterministic.
"""

from __future__ import annotations

from typing import Any, Iterator

__all__ = ["is_transient", "retry_condition", "failure_message"]

# (top-level module, class name) anywhere in the exception's MRO
_TRANSIENT_CLASSES = frozenset({
    ("requests", "ConnectionError"),
    ("requests", "Timeout"),
    ("httpx", "TransportError"),
    ("urllib3", "ProtocolError"),
    ("urllib3", "TimeoutError"),
    ("urllib3", "NewConnectionError"),
})
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "55P03", "57014", "57P")
_NOT_A_REACHABILITY_PROBLEM = ("authentication failed", "does not exist", "no password supplied", "role ")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _http_status(exc: BaseException) -> int | None:
    for value in (getattr(exc, "status", None), getattr(exc, "status_code", None),
                  getattr(getattr(exc, "response", None), "status_code", None)):
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _by_kind(exc: BaseException) -> bool | None:
    """True/False when the kind of `exc` decides; None when it says nothing."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    names = {(c.__module__.split(".")[0], c.__name__) for c in type(exc).__mro__}
    if names & _TRANSIENT_CLASSES:
        return True
    status = _http_status(exc)
    if status is not None:
        return status in (408, 429) or status >= 500
    sqlstate = getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    if ("psycopg2", "OperationalError") in names:
        text = str(exc).lower()
        return not any(marker in text for marker in _NOT_A_REACHABILITY_PROBLEM)
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt could succeed (see the module docstring for the rules)."""
    for err in _chain(exc):
        marked = getattr(err, "transient", None)
        if isinstance(marked, bool):
            return marked
        decided = _by_kind(err)
        if decided is not None:
            return decided
    return False


def retry_condition(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn`: retry a failed task run only when its error is transient.

    Prefect calls it with the failed state; the exception is the state's data (results are not
    persisted, see `_prefect`)."""
    error = getattr(state, "data", None)
    if not isinstance(error, BaseException):
        try:
            error = state.result(raise_on_failure=False)
        except Exception:  # no readable result: nothing says a retry would help
            return False
    if not isinstance(error, BaseException):
        return False
    if is_transient(error):
        return True
    # Prefect logs the traceback when retries are exhausted, but says nothing when this
    # condition declines a retry: log it here, so the run's logs keep it.
    from prefect.logging.loggers import task_run_logger

    task_run_logger(task_run, task=task).error(
        "Task run failed with exception: %r - not retried: the error is deterministic", error,
        exc_info=(type(error), error, error.__traceback__),
    )
    return False


def failure_message(exc: BaseException) -> str:
    """The line(s) a user reads. Errors raised on purpose (the asset layer's, or a plugin's
    that classify themselves) speak for themselves; anything else is prefixed with its type."""
    from assetgraph.errors import AssetGraphError

    if isinstance(exc, AssetGraphError) or isinstance(getattr(exc, "transient", None), bool):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
