"""The sync ledger in the warehouse: one row per (VAN ID, source code), written *before* each
call (`pending`) and *after* it (the outcome). It is what makes the sync exactly-once:

- the mart excludes people with an `applied` row, so the next night skips them;
- a row left `pending` by a killed run has an unknown outcome: the next run asks EveryAction
  (`GET /people/{id}?$expand=codes`) before it applies that code again;
- a lock row, held by an open transaction for the whole sync, keeps two runs from syncing at
  once (the lock dies with the connection, so a killed run never leaves it stuck).

DDL and statements avoid what Redshift lacks (no ON CONFLICT, no JSONB, no advisory locks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sync.errors import SyncLockedError
from sync.status import Status

__all__ = ["Status", "ensure_ledger", "mark_pending", "started_at", "record_outcomes", "pending_rows", "acquire_lock", "LEDGER"]

LEDGER = "sync.van_sync_ledger"
LOCK = "sync.van_sync_lock"


DDL = [
    "create schema if not exists sync",
    f"""create table if not exists {LEDGER} (
        van_id bigint not null,
        source_code_id integer not null,
        status varchar(32) not null,
        attempts integer not null default 0,
        run_id varchar(64),
        http_status integer,
        error_code varchar(64),
        first_attempt_at timestamp,
        updated_at timestamp
    )""",
    f"create table if not exists {LOCK} (name varchar(64) not null)",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def ensure_ledger(conn: Any) -> None:
    with conn.cursor() as cur:
        for stmt in DDL:
            cur.execute(stmt)
        cur.execute(f"select count(*) from {LOCK}")
        if cur.fetchone()[0] == 0:
            cur.execute(f"insert into {LOCK} (name) values ('van_source_codes')")
    conn.commit()


def acquire_lock(conn: Any) -> None:
    """Hold the sync lock until `conn`'s transaction ends. Fails at once if another run has it."""
    import psycopg2

    with conn.cursor() as cur:
        try:
            cur.execute(f"lock table {LOCK} in exclusive mode nowait")
        except psycopg2.errors.LockNotAvailable:
            conn.rollback()
            raise SyncLockedError() from None


@dataclass(frozen=True)
class Outcome:
    van_id: int
    source_code_id: int
    status: str
    http_status: int | None = None
    error_code: str | None = None
    attempts: int = 1


def mark_pending(
    conn: Any, pairs: Sequence[tuple[int, int]], run_id: str, since: dt.datetime | None = None
) -> list[tuple[int, int]]:
    """Before any call: a `pending` row per (van_id, code); existing rows move to pending.

    Returns the pairs to send, in their order: `pairs` without those the ledger has `applied`
    and, given `since` (when this sync started, from `started_at()`), without those this sync
    has already written (an earlier batch). That keeps a pair from being sent twice in a run
    without the run remembering every pair it saw. `pairs` must be distinct."""
    if not pairs:
        return []
    now = _now()
    taken = "l.status = %s or l.updated_at >= %s" if since is not None else "l.status = %s"
    taken_args = (Status.APPLIED, since) if since is not None else (Status.APPLIED,)
    with conn.cursor() as cur:
        cur.execute("create temporary table if not exists _sync_batch (van_id bigint, source_code_id integer)")
        cur.execute("truncate _sync_batch")
        _copy_pairs(cur, "_sync_batch", pairs)
        # no DELETE ... RETURNING (Redshift): read the pairs, then drop them if there are any
        cur.execute(
            f"""select b.van_id, b.source_code_id from _sync_batch as b
                inner join {LEDGER} as l on l.van_id = b.van_id and l.source_code_id = b.source_code_id
                where {taken}""",
            taken_args,
        )
        done = {(int(v), int(c)) for v, c in cur.fetchall()}
        if done:
            cur.execute(
                f"""delete from _sync_batch using {LEDGER} as l
                    where l.van_id = _sync_batch.van_id and l.source_code_id = _sync_batch.source_code_id
                      and ({taken})""",
                taken_args,
            )
        cur.execute(
            f"""update {LEDGER} set status = %s, run_id = %s, updated_at = %s
                from _sync_batch as b
                where {LEDGER}.van_id = b.van_id and {LEDGER}.source_code_id = b.source_code_id
                  and {LEDGER}.status <> %s""",
            (Status.PENDING, run_id, now, Status.APPLIED),
        )
        cur.execute(
            f"""insert into {LEDGER} (van_id, source_code_id, status, attempts, run_id, first_attempt_at, updated_at)
                select b.van_id, b.source_code_id, %s, 0, %s, %s, %s from _sync_batch as b
                where not exists (
                    select 1 from {LEDGER} as l
                    where l.van_id = b.van_id and l.source_code_id = b.source_code_id
                )""",
            (Status.PENDING, run_id, now, now),
        )
    conn.commit()
    return [p for p in pairs if p not in done] if done else list(pairs)


def started_at() -> dt.datetime:
    """The clock `mark_pending(since=...)` compares the ledger's `updated_at` with."""
    return _now()


def record_outcomes(conn: Any, outcomes: Iterable[Outcome], run_id: str) -> None:
    rows = list(outcomes)
    if not rows:
        return
    now = _now()
    with conn.cursor() as cur:
        cur.execute(
            "create temporary table if not exists _sync_outcomes (van_id bigint, source_code_id integer,"
            " status varchar(32), http_status integer, error_code varchar(64), attempts integer)"
        )
        cur.execute("truncate _sync_outcomes")
        from psycopg2.extras import execute_values

        execute_values(
            cur, "insert into _sync_outcomes values %s",
            [(o.van_id, o.source_code_id, o.status, o.http_status, o.error_code, o.attempts) for o in rows],
            page_size=1000,
        )
        cur.execute(
            f"""update {LEDGER} set status = o.status, http_status = o.http_status,
                       error_code = o.error_code, attempts = {LEDGER}.attempts + o.attempts,
                       run_id = %s, updated_at = %s
                from _sync_outcomes as o
                where {LEDGER}.van_id = o.van_id and {LEDGER}.source_code_id = o.source_code_id""",
            (run_id, now),
        )
    conn.commit()


def pending_rows(conn: Any) -> set[tuple[int, int]]:
    """(van_id, code) pairs whose last call has no recorded outcome (a killed run)."""
    with conn.cursor() as cur:
        cur.execute(f"select van_id, source_code_id from {LEDGER} where status = %s", (Status.PENDING,))
        return {(int(v), int(c)) for v, c in cur.fetchall()}


def _copy_pairs(cur: Any, table: str, pairs: Sequence[tuple[int, int]]) -> None:
    # multi-row INSERTs: Redshift has no COPY FROM STDIN
    from psycopg2.extras import execute_values

    execute_values(cur, f"insert into {table} values %s", list(pairs), page_size=1000)
