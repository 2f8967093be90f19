"""Transactions on claims, task queues and workers, written once for both stores (db.py)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from clients.protocol.errors import not_found
from clients.protocol.events import Message
from clients.protocol.tasks import Task, TaskStatus

from ..core import lifecycle
from .artifact_txns import drop_task_artifacts
from .db import Db
from .records import load_record, record_columns, record_of_row, save_claims, save_record

__all__ = ["Claimed", "claim_work", "reclaim_task", "release_claims", "touch_worker"]

QUEUE_LIFETIME_MS = 5 * 86_400_000
WORKER_LIFETIME_MS = 86_400_000
RECENT_TASKS = 20

_encode = msgspec.json.encode
_PENDING_IN_CLAIM_ORDER = (
    f"SELECT p.seq, {record_columns('t')} FROM pending p"
    " JOIN tasks t ON t.task_id = p.task_id WHERE p.task_queue_id = ?"
    " ORDER BY p.priority DESC, p.seq LIMIT ?"
)
_decode_list = msgspec.json.Decoder(list[dict[str, object]]).decode


@dataclass(frozen=True)
class Claimed:
    task: Task
    status: TaskStatus
    run_id: int
    taken_until_ms: int
    seq: int  # the pending row's place, to restore it if the claim is undone


async def touch_worker(
    db: Db, task_queue_id: str, worker_group: str, worker_id: str, now_ms: int
) -> int | None:
    """Record that the worker and its task queue were seen; its quarantine end, if any."""
    await db.run(
        "INSERT INTO task_queues (task_queue_id, expires, last_date_active) VALUES (?, ?, ?)"
        " ON CONFLICT (task_queue_id) DO UPDATE SET expires = excluded.expires,"
        " last_date_active = excluded.last_date_active",
        (task_queue_id, now_ms + QUEUE_LIFETIME_MS, now_ms),
    )
    row = await db.one(
        "INSERT INTO workers (task_queue_id, worker_group, worker_id, first_claim,"
        " last_date_active, expires) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (task_queue_id, worker_group, worker_id) DO UPDATE"
        " SET last_date_active = excluded.last_date_active, expires = CASE"
        " WHEN workers.expires > excluded.expires THEN workers.expires ELSE excluded.expires END"
        " RETURNING quarantine_until",
        (task_queue_id, worker_group, worker_id, now_ms, now_ms, now_ms + WORKER_LIFETIME_MS),
    )
    until: int | None = row[0] if row else None
    return until if until is not None and until > now_ms else None


async def claim_work(
    db: Db,
    task_queue_id: str,
    worker_group: str,
    worker_id: str,
    count: int,
    now_ms: int,
    taken_until_ms: int,
) -> tuple[list[Claimed], list[Message]]:
    """Claim up to `count` pending runs, highest priority first, then oldest.

    A pending run past its deadline met on the way is resolved here and then, so it can
    neither be claimed nor keep the runs behind it waiting for the deadline resolver.
    Claimers in several replicas skip the rows another one holds (FOR UPDATE SKIP LOCKED
    on PostgreSQL), so none waits for another and each run is claimed once.
    """
    claimed: list[Claimed] = []
    messages: list[Message] = []
    while len(claimed) < count:
        rows = await db.all(
            _PENDING_IN_CLAIM_ORDER + db.dialect.lock_skipping("p", "t"),
            (task_queue_id, count - len(claimed)),
        )
        if not rows:
            break
        taken: list[lifecycle.TaskRecord] = []
        for row in rows:
            seq = row[0]
            record = record_of_row(row[1:])
            before = record.state
            if now_ms >= record.deadline_ms:
                messages += lifecycle.deadline_exceeded(record, now_ms)
                await save_record(db, record, before, now_ms, messages)
                continue
            running = lifecycle.claim(record, worker_group, worker_id, now_ms, taken_until_ms)
            messages += running
            taken.append(record)
            status = lifecycle.status_after(record, running)
            claimed.append(Claimed(record.task, status, len(record.runs) - 1, taken_until_ms, seq))
        # Written before the next look, which would otherwise find them pending still.
        await save_claims(db, taken, worker_group, worker_id, now_ms, taken_until_ms)
    if claimed:
        await _remember_tasks(db, task_queue_id, worker_group, worker_id, claimed)
    return claimed, messages


async def _remember_tasks(
    db: Db,
    task_queue_id: str,
    worker_group: str,
    worker_id: str,
    claimed: list[Claimed],
) -> None:
    key = (task_queue_id, worker_group, worker_id)
    row = await db.one(
        "SELECT recent_tasks FROM workers WHERE task_queue_id = ? AND worker_group = ?"
        " AND worker_id = ?" + db.dialect.for_update,
        key,
    )
    recent = _decode_list(row[0]) if row is not None else []
    recent += [{"taskId": c.status.task_id, "runId": c.run_id} for c in claimed]
    await db.run(
        "UPDATE workers SET recent_tasks = ? WHERE task_queue_id = ? AND worker_group = ?"
        " AND worker_id = ?",
        (_encode(recent[-RECENT_TASKS:]), *key),
    )


async def reclaim_task(
    db: Db, task_id: str, run_id: int, now_ms: int, taken_until_ms: int
) -> tuple[TaskStatus, str, str]:
    record = await load_record(db, task_id)
    if record is None or not 0 <= run_id < len(record.runs):
        raise not_found(f"run {run_id} of task {task_id} not found")
    before = record.state
    run = lifecycle.reclaim(record, run_id, now_ms, taken_until_ms)
    await save_record(db, record, before, now_ms, [])
    return record.status(), str(run.worker_group), str(run.worker_id)


async def release_claims(db: Db, claims: list[Claimed], now_ms: int) -> list[Message]:
    """Put runs claimed for a client that went away back to pending, in their old place."""
    messages: list[Message] = []
    for claim in claims:
        record = await load_record(db, claim.status.task_id)
        if record is None:
            continue
        before = record.state
        undone = lifecycle.unclaim(record, claim.run_id)
        if undone:
            await save_record(db, record, before, now_ms, undone)
            await db.run(
                "UPDATE pending SET seq = ? WHERE task_id = ?", (claim.seq, record.task_id)
            )
            messages += undone
    return messages


async def quarantine_worker(
    db: Db,
    task_queue_id: str,
    worker_group: str,
    worker_id: str,
    until_ms: int,
    detail: dict[str, object],
    now_ms: int,
) -> bool:
    """Set the quarantine and append its detail; False when the worker is unknown."""
    row = await db.one(
        "SELECT quarantine_details FROM workers WHERE task_queue_id = ? AND worker_group = ?"
        " AND worker_id = ?" + db.dialect.for_update,
        (task_queue_id, worker_group, worker_id),
    )
    if row is None:
        return False
    details = [*_decode_list(row[0]), detail]
    await db.run(
        "UPDATE workers SET quarantine_until = ?, quarantine_details = ?,"
        " expires = CASE WHEN expires > ? THEN expires ELSE ? END WHERE task_queue_id = ? AND worker_group = ? AND worker_id = ?",
        (until_ms, _encode(details), until_ms, until_ms, task_queue_id, worker_group, worker_id),
    )
    return True


async def declare_worker(
    db: Db,
    task_queue_id: str,
    worker_group: str,
    worker_id: str,
    expires_ms: int | None,
    now_ms: int,
    host: bytes | None = None,
) -> None:
    await touch_worker(db, task_queue_id, worker_group, worker_id, now_ms)
    key = (task_queue_id, worker_group, worker_id)
    where = " WHERE task_queue_id = ? AND worker_group = ? AND worker_id = ?"
    if expires_ms is not None:
        await db.run("UPDATE workers SET expires = ?" + where, (expires_ms, *key))
    if host is not None:
        await db.run("UPDATE workers SET host = ?" + where, (host, *key))


async def expire(db: Db, now_ms: int, limit: int) -> int:
    """Delete tasks (with their artifacts), groups, queues and workers past their expiry;
    how many tasks went."""
    rows = await db.all(
        "SELECT task_id FROM tasks WHERE expires <= ? AND state IN ('completed', 'failed', 'exception')"
        " ORDER BY expires LIMIT ?" + db.dialect.lock_skipping("tasks"),
        (now_ms, limit),
    )
    ids = [(task_id,) for (task_id,) in rows]
    await db.run_many("DELETE FROM pending WHERE task_id = ?", ids)
    await db.run_many("DELETE FROM claims WHERE task_id = ?", ids)
    await db.run_many("DELETE FROM dependencies WHERE dependent_task_id = ?", ids)
    await db.run_many("DELETE FROM dependencies WHERE required_task_id = ?", ids)
    await db.run_many("DELETE FROM tasks WHERE task_id = ?", ids)
    await drop_task_artifacts(db, [task_id for (task_id,) in ids], now_ms)
    await db.run("DELETE FROM task_groups WHERE expires <= ?", (now_ms,))
    await db.run("DELETE FROM task_queues WHERE expires <= ?", (now_ms,))
    await db.run("DELETE FROM workers WHERE expires <= ?", (now_ms,))
    await db.run("DELETE FROM clients WHERE expires <= ? AND delete_on_expiration = 1", (now_ms,))
    return len(ids)
