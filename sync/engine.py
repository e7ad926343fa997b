"""The sync loop: batches, bounded concurrency, the ledger before and after each call.

- At most `concurrency` requests are in flight: that many worker threads, and each holds one
  slot of the Prefect global concurrency limit `everyaction-api` (when a Prefect API is
  configured) for as long as it works, so the bound holds across every process and machine
  that syncs — with one slot acquisition per worker, not one API call per request.
- Work goes in batches (default 2000): `pending` rows for the batch are committed before any
  call, outcomes after the batch. A crash leaves at most one batch `pending`; the next run
  asks EveryAction about those before applying anything again.
- One run at a time: the ledger lock is held for the whole sync.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from sync.client import ApplyResult, EveryActionClient
from sync.errors import FailureFractionExceeded
from sync.ledger import Outcome, Status, acquire_lock, ensure_ledger, mark_pending, pending_rows, record_outcomes

__all__ = ["SyncSummary", "run_sync", "CONCURRENCY_LIMIT_NAME"]

CONCURRENCY_LIMIT_NAME = "everyaction-api"
log = logging.getLogger("sync.van_source_codes")


@dataclass
class SyncSummary:
    total: int = 0
    applied: int = 0
    already_applied: int = 0
    not_found: int = 0
    bad_code: int = 0
    failed: int = 0
    retried: int = 0
    requests: int = 0
    seconds: float = 0.0
    by_code: dict[int, int] = field(default_factory=dict)

    @property
    def request_rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "total": self.total, "applied": self.applied, "already_applied": self.already_applied,
            "not_found": self.not_found, "bad_code": self.bad_code, "failed": self.failed,
            "retried": self.retried, "requests": self.requests, "seconds": round(self.seconds, 2),
            "request_rate_per_s": round(self.request_rate, 1),
        }

    def add(self, code_id: int, result: ApplyResult) -> None:
        self.retried += result.retries
        if result.status == Status.APPLIED:
            if result.already_applied:
                self.already_applied += 1
            else:
                self.applied += 1
            self.by_code[code_id] = self.by_code.get(code_id, 0) + 1
        elif result.status == Status.NOT_FOUND:
            self.not_found += 1
        elif result.status == Status.BAD_CODE:
            self.bad_code += 1
        else:
            self.failed += 1


def ensure_concurrency_limit(limit: int) -> bool:
    """Create or update the global concurrency limit; False when no Prefect API is reachable."""
    try:
        from prefect import get_client
        from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
        from prefect.exceptions import ObjectNotFound

        with get_client(sync_client=True) as client:
            try:
                current = client.read_global_concurrency_limit_by_name(CONCURRENCY_LIMIT_NAME)
                if current.limit != limit or not current.active:
                    client.update_global_concurrency_limit(
                        CONCURRENCY_LIMIT_NAME, GlobalConcurrencyLimitUpdate(limit=limit, active=True)
                    )
            except ObjectNotFound:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=CONCURRENCY_LIMIT_NAME, limit=limit)
                )
        return True
    except Exception as exc:  # no API: the per-process bound (thread count) still holds
        log.warning("no Prefect global concurrency limit (%s); bounding this process only", type(exc).__name__)
        return False


@contextlib.contextmanager
def _slot(use_prefect: bool) -> Iterator[None]:
    if not use_prefect:
        yield
        return
    from prefect.concurrency.sync import concurrency

    with concurrency(CONCURRENCY_LIMIT_NAME, occupy=1, strict=True):
        yield


class _Progress:
    """A rich progress bar on a terminal, plain log lines every 10 % otherwise."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self._next_log = total, 0, 0.1
        self._bar = None
        if sys.stderr.isatty() and total:
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._task = self._bar.add_task("applying source codes", total=total)
            self._bar.start()

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif self.total and self.done / self.total >= self._next_log:
            log.info("sync progress: %d/%d", self.done, self.total)
            self._next_log += 0.1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _batches(items: Sequence[tuple[int, int]], size: int) -> Iterator[Sequence[tuple[int, int]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def run_sync(
    connect: Callable[[], Any],
    run_id: str,
    assignments: Sequence[tuple[int, int]],
    client_factory: Callable[[], EveryActionClient],
    *,
    concurrency: int = 3,
    batch_size: int = 2000,
    max_failure_fraction: float = 0.05,
    use_prefect_limit: bool = True,
) -> SyncSummary:
    """Apply each (van_id, code) once. `connect()` returns a new DB-API connection."""
    summary = SyncSummary(total=len(assignments))
    t0 = time.perf_counter()
    lock_conn = connect()
    conn = connect()
    try:
        ensure_ledger(conn)
        acquire_lock(lock_conn)
        use_prefect = use_prefect_limit and ensure_concurrency_limit(concurrency)
        clients = [client_factory() for _ in range(concurrency)]

        # 1. a killed run's `pending` rows: ask before applying again
        recovered = pending_rows(conn)
        work = list(dict.fromkeys(assignments))
        if recovered:
            log.info("%d codes were in flight when a previous run stopped; checking them", len(recovered))
            outcomes = []
            for van_id, code_id in sorted(recovered):
                if clients[0].has_code(van_id, code_id):
                    outcomes.append(Outcome(van_id, code_id, Status.APPLIED, attempts=0))
                    summary.already_applied += 1
            record_outcomes(conn, outcomes, run_id)
            done = {(o.van_id, o.source_code_id) for o in outcomes}
            work = [p for p in work if p not in done]

        # 2. the batches
        progress = _Progress(len(work))
        for batch in _batches(work, batch_size):
            mark_pending(conn, batch, run_id)
            results = _apply_batch(batch, clients, use_prefect)
            record_outcomes(
                conn,
                [Outcome(v, c, r.status, r.http_status, r.error_code, r.attempts) for (v, c), r in results],
                run_id,
            )
            for (_, code_id), r in results:
                summary.add(code_id, r)
            progress.advance(len(batch))
        progress.close()
        summary.requests = sum(c.requests for c in clients)
    finally:
        summary.seconds = time.perf_counter() - t0
        for c in (conn, lock_conn):
            try:
                c.rollback()
                c.close()
            except Exception:
                pass
    bad = summary.not_found + summary.bad_code + summary.failed
    if summary.total and bad / summary.total > max_failure_fraction:
        raise FailureFractionExceeded(bad, summary.total, max_failure_fraction)
    return summary


def _apply_batch(
    batch: Sequence[tuple[int, int]], clients: list[EveryActionClient], use_prefect: bool
) -> list[tuple[tuple[int, int], ApplyResult]]:
    work: queue.Queue[tuple[int, int]] = queue.Queue()
    for pair in batch:
        work.put(pair)
    results: list[tuple[tuple[int, int], ApplyResult]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(client: EveryActionClient) -> None:
        try:
            with _slot(use_prefect):
                while True:
                    try:
                        van_id, code_id = work.get_nowait()
                    except queue.Empty:
                        return
                    result = client.apply_code(van_id, code_id)
                    with lock:
                        results.append(((van_id, code_id), result))
        except BaseException as exc:  # surfaced below; other workers stop at the next item
            errors.append(exc)
            while not work.empty():
                try:
                    work.get_nowait()
                except queue.Empty:
                    break

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
