"""The sync loop: a pipeline of ledger batches through a fixed pool of workers.

- At most `concurrency` requests are in flight: that many worker threads, each sending one
  request at a time and only while it holds one slot of the Prefect global concurrency limit
  `everyaction-api` (when a Prefect API is configured). Slots are the bound across every
  process and machine that syncs; a worker takes its slot for a lease of up to
  `batch_size / concurrency` requests (or until the queue runs dry), then gives it back and
  queues for it again, so another deployment's sync gets its turn and a slot acquisition
  (one API round trip) is paid per lease, not per request. Each lease is recorded in the
  warehouse while held (sync/engine/slots.py): the next sync of this warehouse, under the ledger
  lock, gives back what a killed one left taken before it takes any.
- No stop between batches: while the workers apply one batch, the main thread commits the
  next batch's `pending` rows (before any of its calls can start: a batch is queued only
  after its commit) and the outcomes of finished calls (every `batch_size` outcomes). A crash
  leaves fewer than two and a half batches `pending` (half a batch still queued, the next one,
  unflushed outcomes); the next run asks EveryAction about those, through the same workers
  and slots, before applying anything again.
- One run at a time: the ledger lock is held for the whole sync.
- Memory is flat in the number of codes: `assignments` is consumed one batch at a time (the
  asset streams the mart through a server-side cursor), and a pair is sent at most once per run
  because each batch drops, in the ledger, the pairs already applied or already taken by this
  run (`ledger.mark_pending`), not because the run remembers every pair it saw.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from sync.everyaction.client import ApplyResult, EveryActionClient
from sync.errors import FailureFractionExceeded
from sync.engine.ledger import (
    Outcome, Status, acquire_lock, ensure_ledger, mark_pending, pending_rows, record_outcomes, started_at,
)
from sync.engine.slots import Lease, SlotLeases

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
    skipped: int = 0  # the ledger had them applied already (a mart older than the last sync)
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
            "retried": self.retried, "skipped": self.skipped, "requests": self.requests, "seconds": round(self.seconds, 2),
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
def _slot(leases: SlotLeases | None) -> Iterator[Lease]:
    if leases is None:
        yield Lease("")  # no Prefect API: the thread count is the bound
        return
    with leases.slot() as lease:
        yield lease


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


def _batches(items: Iterable[tuple[int, int]], size: int) -> Iterator[list[tuple[int, int]]]:
    """Consecutive batches of `size` distinct pairs (duplicates within a batch dropped), read
    lazily: only one batch of `items` is held at a time."""
    batch: dict[tuple[int, int], None] = {}
    for van_id, code_id in items:
        batch[(int(van_id), int(code_id))] = None
        if len(batch) >= size:
            yield list(batch)
            batch = {}
    if batch:
        yield list(batch)


_APPLY, _CHECK = "apply", "check"
_STOP = ("stop", 0, 0)  # sentinel on the work queue (compared by identity)


class _WorkerError:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Pool:
    """`len(clients)` worker threads, one client (one connection) each. Work items are
    `(op, van_id, code_id)`; each result comes back on `results` as `(item, result)`."""

    def __init__(self, clients: list[EveryActionClient], leases: SlotLeases | None, lease_items: int) -> None:
        self.work: queue.SimpleQueue[tuple[str, int, int]] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
        self._leases, self._lease_items = leases, max(1, lease_items)
        self._stopped = False
        self._threads = [threading.Thread(target=self._worker, args=(c,), daemon=True) for c in clients]
        for t in self._threads:
            t.start()

    def _worker(self, client: EveryActionClient) -> None:
        try:
            item = self.work.get()
            while item is not _STOP:
                with _slot(self._leases) as lease:
                    for _ in range(self._lease_items):
                        self.results.put((item, self._call(client, item)))
                        try:
                            item = self.work.get_nowait()
                        except queue.Empty:
                            item = None  # nothing queued: give the slot back while waiting
                            break
                        if item is _STOP:
                            return
                        if lease.lost:  # the server lost the lease: take a new one
                            break
                    # else: the lease is used up; `item` goes out under the next one
                if item is None:
                    item = self.work.get()
        except BaseException as exc:  # surfaced by the main thread, which stops the others
            self.results.put((_WorkerError(exc), None))

    @staticmethod
    def _call(client: EveryActionClient, item: tuple[str, int, int]) -> Any:
        op, van_id, code_id = item
        if op == _CHECK:
            return client.has_code(van_id, code_id)
        return client.apply_code(van_id, code_id)

    def stop(self) -> None:
        """Drop what is still queued and wait for the workers (each finishes its current call)."""
        if self._stopped:
            return
        self._stopped = True
        while True:
            try:
                self.work.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self.work.put(_STOP)
        for t in self._threads:
            t.join()

    def drain(self) -> list[tuple[Any, Any]]:
        """Results that arrived after `stop` (calls that finished while stopping)."""
        out = []
        while True:
            try:
                out.append(self.results.get_nowait())
            except queue.Empty:
                return out


def run_sync(
    connect: Callable[[], Any],
    run_id: str,
    assignments: Iterable[tuple[int, int]],
    client_factory: Callable[[], EveryActionClient],
    *,
    total: int | None = None,
    concurrency: int = 3,
    batch_size: int = 2000,
    max_failure_fraction: float = 0.05,
    use_prefect_limit: bool = True,
    lease_seconds: int = 300,
    slot_wait_seconds: float = 300.0,
) -> SyncSummary:
    """Apply each (van_id, code) once. `connect()` returns a new DB-API connection.

    `assignments` may be a lazy iterator (read one batch at a time); `total`, when known (the
    mart's row count), only sizes the progress display. `summary.total` counts the distinct
    pairs taken from `assignments`."""
    if total is None and isinstance(assignments, Sequence):
        total = len(assignments)
    summary = SyncSummary()
    t0 = time.perf_counter()
    since = started_at()
    lock_conn = connect()
    conn = connect()
    clients: list[EveryActionClient] = []
    pool: _Pool | None = None
    leases: SlotLeases | None = None
    try:
        ensure_ledger(conn)
        acquire_lock(lock_conn)
        if use_prefect_limit and ensure_concurrency_limit(concurrency):
            # under the ledger lock: free the slots a killed sync of this warehouse left taken
            leases = SlotLeases(connect, CONCURRENCY_LIMIT_NAME, lease_seconds=lease_seconds, wait_seconds=slot_wait_seconds)
            leases.reconcile()
        clients = [client_factory() for _ in range(concurrency)]
        pool = _Pool(clients, leases, batch_size // concurrency)

        # 1. a killed run's `pending` rows: ask before applying again (those found are recorded
        #    `applied`, so the batches below skip them)
        recovered = pending_rows(conn)
        if recovered:
            log.info("%d codes were in flight when a previous run stopped; checking them", len(recovered))
            found = _check_recovered(conn, pool, sorted(recovered), run_id)
            summary.already_applied += len(found)

        # 2. the batches, pipelined
        _apply_all(conn, pool, assignments, run_id, batch_size, summary, total, since)
        pool.stop()
        summary.requests = sum(c.requests for c in clients)
    finally:
        summary.seconds = time.perf_counter() - t0
        if pool is not None:
            pool.stop()
        for client in clients:
            client.close()
        if leases is not None:
            leases.close()
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


def _check_recovered(conn: Any, pool: _Pool, pairs: list[tuple[int, int]], run_id: str) -> set[tuple[int, int]]:
    """Ask EveryAction about each pair left `pending`; record and return those it has."""
    for van_id, code_id in pairs:
        pool.work.put((_CHECK, van_id, code_id))
    found: set[tuple[int, int]] = set()
    for _ in pairs:
        item, has = pool.results.get()
        if isinstance(item, _WorkerError):
            pool.stop()
            raise item.exc
        if has:
            found.add((item[1], item[2]))
    record_outcomes(conn, [Outcome(v, c, Status.APPLIED, attempts=0) for v, c in sorted(found)], run_id)
    return found


def _apply_all(
    conn: Any, pool: _Pool, work: Iterable[tuple[int, int]], run_id: str, batch_size: int, summary: SyncSummary,
    total: int | None, since: Any,
) -> None:
    """Queue batch after batch (each only once its `pending` rows are committed), keeping the
    next one queued before the workers run dry; commit outcomes every `batch_size` results."""
    batches = _batches(work, batch_size)
    low_water = max(batch_size // 2, 1)
    queued = 0  # items put on the queue, minus results received
    more = True
    done: list[Outcome] = []
    progress = _Progress(total or 0)

    def feed() -> None:
        nonlocal more, queued
        batch: list[tuple[int, int]] = []
        while more and not batch:  # a batch whose pairs are all done already: take the next
            taken = next(batches, None)
            if taken is None:
                more = False
                return
            summary.total += len(taken)
            batch = mark_pending(conn, taken, run_id, since)
            summary.skipped += len(taken) - len(batch)
            progress.advance(len(taken) - len(batch))
        for van_id, code_id in batch:
            pool.work.put((_APPLY, van_id, code_id))
        queued += len(batch)

    def take(item: tuple[str, int, int], result: ApplyResult) -> None:
        _, van_id, code_id = item
        done.append(Outcome(van_id, code_id, result.status, result.http_status, result.error_code, result.attempts))
        summary.add(code_id, result)

    try:
        feed()
        while queued:
            item, result = pool.results.get()
            if isinstance(item, _WorkerError):
                pool.stop()
                for late_item, late_result in pool.drain():  # calls that ended meanwhile
                    if not isinstance(late_item, _WorkerError):
                        take(late_item, late_result)
                raise item.exc
            queued -= 1
            take(item, result)
            progress.advance(1)
            if more and queued < low_water:
                feed()
            if len(done) >= batch_size:
                record_outcomes(conn, done, run_id)
                done.clear()
    except BaseException:
        # keep what did happen (a failed flush leaves the rows `pending`: checked next run)
        with contextlib.suppress(Exception):
            conn.rollback()
            record_outcomes(conn, done, run_id)
        raise
    finally:
        progress.close()
    record_outcomes(conn, done, run_id)
