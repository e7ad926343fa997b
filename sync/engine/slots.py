"""Slots of the Prefect global concurrency limit `everyaction-api`: each lease is recorded in
the warehouse while it is held, so a sync that dies holding slots never blocks a later one.

Taking a slot: `increment-with-lease` (1 slot, a lease of `lease_seconds`), then a row in
`sync.van_sync_slots` (lease id, slots, last renewal). One thread renews every held lease each
quarter of its duration and stamps the row; giving the slot back is `decrement-with-lease` and
deleting the row. Waiting is bounded: a slot not granted within `wait_seconds`, or a Prefect
API that does not answer, raises a transient `SlotWaitTimeout` (the asset's retry runs the
sync again, which reconciles first).

Reconciling (`reconcile`, called with the ledger lock held, before any slot is taken):

- The ledger lock admits one sync per warehouse, so every row of `sync.van_sync_slots` is a
  lease of a sync of *this* warehouse that is no longer running (killed client or worker, or a
  release the Prefect server could not take because it was down). Its slots are released.
- Syncs of *other* warehouses can share the limit (one Prefect server, one EveryAction key) and
  be running now; they are not serialised by our lock, so their slots are never touched: we do
  not reset the counter, we give back exactly the leases we recorded.
- A recorded lease the server still knows is released with it (exact). One it no longer
  knows was either expired and repossessed by the server (its slots already given back) or
  lost with the server's memory when it restarted (its slots still counted, Prefect #17415 /
  #21794). A lease renewed less than its duration ago cannot have expired, so it was lost: its
  slots are decremented. An older one is taken as repossessed when a real server is in use
  (`PREFECT_API_URL`; Prefect's repossessor runs there) and as lost in ephemeral mode (nothing
  repossesses there). The project's local server keeps leases on disk, so it loses none.

What is left: a client killed in the milliseconds between the server granting a lease and the
row's commit leaves a lease nobody recorded; the server repossesses it after `lease_seconds`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from contextlib import contextmanager

from sync.errors import SlotWaitTimeout

__all__ = ["SlotLeases", "Lease", "SLOTS_TABLE"]

SLOTS_TABLE = "sync.van_sync_slots"
DDL = [
    "create schema if not exists sync",
    f"""create table if not exists {SLOTS_TABLE} (
        lease_id varchar(36) not null,
        slots integer not null,
        lease_seconds integer not null,
        renewed_at timestamp not null
    )""",
]
log = logging.getLogger("sync.engine.slots")


def _ephemeral() -> bool:
    """No API URL configured: Prefect's ephemeral API, where no repossessor runs."""
    from prefect.settings import get_current_settings

    return not get_current_settings().api.url


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class Lease:
    lease_id: str
    lost: bool = False  # the server no longer knows it: stop using it, settle it on release


class SlotLeases:
    """Leases on `limit_name` for one sync run. `connect()` returns a new DB-API connection."""

    def __init__(
        self, connect: Callable[[], Any], limit_name: str, *,
        lease_seconds: int = 300, wait_seconds: float = 300.0, api_attempts: int = 1,
    ) -> None:
        from prefect import get_client

        self.limit_name, self.lease_seconds, self.wait_seconds = limit_name, lease_seconds, wait_seconds
        self._api_attempts = api_attempts
        self._db = connect()
        self._db.autocommit = True
        self._db_lock = threading.Lock()
        with self._db.cursor() as cur:
            for stmt in DDL:
                cur.execute(stmt)
        self._client = get_client(sync_client=True)
        self._client.__enter__()
        self._held: dict[str, Lease] = {}
        self._held_lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer = threading.Thread(target=self._renew_loop, name="slot-lease-renewer", daemon=True)
        self._renewer.start()

    # ---- database rows -------------------------------------------------------------------
    def _sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        with self._db_lock, self._db.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    # ---- the Prefect API, bounded ----------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """`fn()`, tried `api_attempts` times while the Prefect API does not answer (Prefect's
        client already retries a lost connection ~1 min); then a transient `SlotWaitTimeout`."""
        import httpx

        for attempt in range(1, self._api_attempts + 1):
            try:
                return fn()
            except httpx.HTTPStatusError:
                raise
            except (httpx.TransportError, OSError) as exc:
                if attempt == self._api_attempts:
                    raise SlotWaitTimeout(self.limit_name, f"the Prefect API did not answer ({what}: {type(exc).__name__})") from None
                time.sleep(min(2.0 ** attempt, 10.0))

    def _gone(self, lease_id: str) -> bool:
        """Whether the server no longer knows the lease (renewing tells: 410 Gone)."""
        import httpx

        from uuid import UUID

        try:
            self._call("renew", lambda: self._client.renew_concurrency_lease(UUID(lease_id), self.lease_seconds))
            return False
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code in (404, 410):
                return True
            raise

    def _settle(self, lease_id: str, slots: int, renewed_at: dt.datetime, lease_seconds: int) -> str:
        """Give back the slots of a lease whose holder is gone (see the module docstring)."""
        from uuid import UUID

        if not self._gone(lease_id):
            self._call("release", lambda: self._client.release_concurrency_slots_with_lease(UUID(lease_id)))
            outcome = "released"
        else:
            young = (_now() - renewed_at).total_seconds() < lease_seconds
            if young or _ephemeral():
                self._call("decrement", lambda: self._client.release_concurrency_slots(
                    names=[self.limit_name], slots=slots, occupancy_seconds=1.0))
                outcome = "lost by the server, decremented"
            else:
                outcome = "expired, repossessed by the server"
        self._sql(f"delete from {SLOTS_TABLE} where lease_id = %s", (lease_id,))
        return outcome

    # ---- public ---------------------------------------------------------------------------
    def reconcile(self) -> list[str]:
        """Settle every recorded lease (call with the ledger lock held). Returns the outcomes."""
        rows = self._sql(f"select lease_id, slots, renewed_at, lease_seconds from {SLOTS_TABLE}")
        outcomes = [self._settle(lid, int(slots), renewed, int(secs)) for lid, slots, renewed, secs in rows]
        if outcomes:
            log.warning("a previous sync left %d slot lease(s) of %s: %s", len(outcomes), self.limit_name,
                        ", ".join(sorted(set(outcomes))))
        return outcomes

    def acquire(self) -> Lease:
        import httpx

        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                response = self._call("acquire", lambda: self._client.increment_concurrency_slots_with_lease(
                    names=[self.limit_name], slots=1, mode="concurrency", lease_duration=self.lease_seconds))
                break
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:  # 423 Locked: every slot is taken
                    raise
                retry_after = exc.response.headers.get("Retry-After", "1")
                wait = max(0.05, min(float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 1.0, 5.0))
                if time.monotonic() + wait > deadline:
                    raise SlotWaitTimeout(self.limit_name, f"no slot free within {self.wait_seconds:.0f} s") from None
                time.sleep(wait)
        lease = Lease(str(response.json()["lease_id"]))
        self._sql(f"insert into {SLOTS_TABLE} (lease_id, slots, lease_seconds, renewed_at) values (%s, 1, %s, %s)",
                  (lease.lease_id, self.lease_seconds, _now()))
        with self._held_lock:
            self._held[lease.lease_id] = lease
        return lease

    def release(self, lease: Lease) -> None:
        from uuid import UUID

        with self._held_lock:
            self._held.pop(lease.lease_id, None)
        if lease.lost:
            self._settle(lease.lease_id, 1, _now(), self.lease_seconds)  # lost young: decrement
            return
        self._call("release", lambda: self._client.release_concurrency_slots_with_lease(UUID(lease.lease_id)))
        self._sql(f"delete from {SLOTS_TABLE} where lease_id = %s", (lease.lease_id,))

    @contextmanager
    def slot(self) -> Iterator[Lease]:
        lease = self.acquire()
        try:
            yield lease
        finally:
            self.release(lease)

    def _renew_loop(self) -> None:
        from uuid import UUID

        while not self._stop.wait(self.lease_seconds / 4):
            with self._held_lock:
                held = list(self._held.values())
            for lease in held:
                try:
                    if self._gone(lease.lease_id):
                        lease.lost = True
                        continue
                    self._sql(f"update {SLOTS_TABLE} set renewed_at = %s where lease_id = %s", (_now(), lease.lease_id))
                except Exception as exc:  # the worker's release reports a dead API; keep renewing
                    log.warning("could not renew a slot lease: %s", type(exc).__name__)

    def close(self) -> None:
        self._stop.set()
        self._renewer.join(timeout=5)
        self._client.__exit__(None, None, None)
        try:
            self._db.close()
        except Exception:
            pass
