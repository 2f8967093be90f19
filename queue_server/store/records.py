"""Loading and saving task records, and what every saved change keeps true (see schema.py).

These functions run inside one transaction (db.py); they never commit. On PostgreSQL a task's
row is locked (FOR UPDATE) before it is changed, and that lock guards the task's `pending` and
`claims` rows too: no transaction writes those without holding it.
"""

from __future__ import annotations

import msgspec

from clients.protocol.events import Exchange, Message, TaskGroupChanged, group_routing_key
from clients.protocol.states import RunState, TaskState, priority_rank
from clients.protocol.tasks import RunInfo, Task
from clients.protocol.times import format_ms, parse_time

from ..core import lifecycle
from ..core.lifecycle import TaskRecord
from .db import Db

__all__ = ["insert_pending", "insert_record", "load_record", "save_claims", "save_record"]

_encode = msgspec.json.Encoder().encode
_decode_task = msgspec.json.Decoder(Task).decode
_decode_runs = msgspec.json.Decoder(list[RunInfo]).decode

RECORD_COLUMNS = "task_id, definition, runs, retries_left, deadline, state"


def record_columns(alias: str) -> str:
    """RECORD_COLUMNS of the table named `alias` in a join."""
    return ", ".join(f"{alias}.{column.strip()}" for column in RECORD_COLUMNS.split(","))


def record_of_row(row: tuple[str, bytes, bytes, int, int, str]) -> TaskRecord:
    task_id, definition, runs, retries_left, deadline, state = row
    decoded = _decode_runs(runs)
    # A task with runs stored as `unscheduled` waits to rerun (lifecycle.await_rerun).
    awaiting = bool(decoded) and state == TaskState.unscheduled.value
    return TaskRecord(task_id, _decode_task(definition), decoded, retries_left, deadline, awaiting)


async def load_record(db: Db, task_id: str) -> TaskRecord | None:
    """The task, its row locked until the transaction ends (it is about to change)."""
    row = await db.one(
        f"SELECT {RECORD_COLUMNS} FROM tasks WHERE task_id = ?{db.dialect.for_update}", (task_id,)
    )
    return None if row is None else record_of_row(row)


async def insert_record(db: Db, record: TaskRecord, expires: int, unresolved: int) -> bool:
    """Insert the task's row; False (and nothing written) if its taskId is already taken."""
    task = record.task
    inserted = await db.run(
        "INSERT INTO tasks (task_id, task_group_id, scheduler_id, project_id, task_queue_id,"
        " definition, runs, retries_left, state, deadline, expires, unresolved_deps)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task_id) DO NOTHING",
        (
            record.task_id,
            task.task_group_id,
            task.scheduler_id,
            task.project_id,
            task.task_queue_id,
            _encode(task),
            _encode(record.runs),
            record.retries_left,
            record.state.value,
            record.deadline_ms,
            expires,
            unresolved,
        ),
    )
    return inserted == 1


async def save_record(
    db: Db,
    record: TaskRecord,
    before: TaskState,
    now_ms: int,
    messages: list[Message],
    *,
    definition_changed: bool = False,
) -> None:
    """Write the record back and keep the invariants; appends the messages that follow.

    Only the runs and what follows from them are written, unless `definition_changed` (a
    change of priority): the definition, the largest part of the row, stays as it is.
    """
    if definition_changed:
        await db.run(
            "UPDATE tasks SET definition = ?, runs = ?, retries_left = ?, state = ?"
            " WHERE task_id = ?",
            (
                _encode(record.task),
                _encode(record.runs),
                record.retries_left,
                record.state.value,
                record.task_id,
            ),
        )
    else:
        await db.run(
            "UPDATE tasks SET runs = ?, retries_left = ?, state = ? WHERE task_id = ?",
            (_encode(record.runs), record.retries_left, record.state.value, record.task_id),
        )
    await sync_run_rows(db, record, before, now_ms)
    was_active = before not in lifecycle.RESOLVED_TASK_STATES
    if was_active != record.active:
        await _count_group_activity(db, record, 1 if record.active else -1, messages)
    if was_active and not record.active:
        await _resolve_dependents(db, record, now_ms, messages)


async def sync_run_rows(db: Db, record: TaskRecord, before: TaskState, now_ms: int) -> None:
    """Make the pending and claims rows of the task match its last run.

    The task's state before the change says which of those rows it had (the invariants of
    schema.py: a pending task has its pending row, a running one its claims row, any other
    neither), so a row is deleted only where there is one.
    """
    run = record.last_run()
    state = run.state if run is not None else None
    if state is RunState.pending and run is not None:
        await insert_pending(db, record, now_ms)
    elif before is TaskState.pending:
        await db.run("DELETE FROM pending WHERE task_id = ?", (record.task_id,))
    if state is RunState.running and run is not None:
        await db.run(
            "INSERT INTO claims (task_id, run_id, task_queue_id, worker_group, worker_id,"
            " taken_until, claimed) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task_id) DO UPDATE"
            " SET run_id = excluded.run_id, taken_until = excluded.taken_until,"
            " worker_group = excluded.worker_group, worker_id = excluded.worker_id",
            (
                record.task_id,
                run.run_id,
                record.task.task_queue_id,
                run.worker_group,
                run.worker_id,
                parse_time(str(run.taken_until)),
                now_ms,
            ),
        )
    elif before is TaskState.running:
        await db.run("DELETE FROM claims WHERE task_id = ?", (record.task_id,))


async def save_claims(
    db: Db,
    records: list[TaskRecord],
    worker_group: str,
    worker_id: str,
    now_ms: int,
    taken_until_ms: int,
) -> None:
    """Write back runs just claimed (pending -> running) by one worker, all at once: what
    save_record does for each (the task's runs and state, its pending row gone, its claims
    row), in one batch of each statement. A claim changes no group's count and resolves
    nothing, so that is all."""
    if not records:
        return
    await db.run_many(
        "UPDATE tasks SET runs = ?, state = ? WHERE task_id = ?",
        [(_encode(r.runs), r.state.value, r.task_id) for r in records],
    )
    await db.run_many("DELETE FROM pending WHERE task_id = ?", [(r.task_id,) for r in records])
    await db.run_many(
        "INSERT INTO claims (task_id, run_id, task_queue_id, worker_group, worker_id,"
        " taken_until, claimed) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.task_id,
                len(r.runs) - 1,
                r.task.task_queue_id,
                worker_group,
                worker_id,
                taken_until_ms,
                now_ms,
            )
            for r in records
        ],
    )


async def insert_pending(db: Db, record: TaskRecord, now_ms: int) -> None:
    """The pending row of the record's last run, which is pending."""
    run = record.last_run()
    assert run is not None and run.state is RunState.pending
    await db.run(
        "INSERT INTO pending (task_queue_id, priority, task_id, run_id, inserted)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (task_id) DO UPDATE SET priority = excluded.priority"
        " WHERE pending.run_id = excluded.run_id",
        (
            record.task.task_queue_id,
            priority_rank(record.task.priority),
            record.task_id,
            run.run_id,
            now_ms,
        ),
    )


async def _count_group_activity(
    db: Db, record: TaskRecord, delta: int, messages: list[Message]
) -> None:
    row = await db.one(
        "UPDATE task_groups SET active = active + ? WHERE task_group_id = ?"
        " RETURNING active, scheduler_id, expires, sealed",
        (delta, record.task.task_group_id),
    )
    if row is not None and row[0] == 0:
        messages.append(
            group_message(Exchange.task_group_resolved, record.task.task_group_id, row[1:])
        )


def group_message(
    exchange: Exchange, task_group_id: str, row: tuple[str, int, int | None]
) -> Message:
    scheduler_id, expires, sealed = row
    body = TaskGroupChanged(
        task_group_id=task_group_id, scheduler_id=scheduler_id, expires=format_ms(expires)
    )
    if sealed is not None:
        body.sealed = format_ms(sealed)
    return Message(
        exchange=exchange,
        routing_key=group_routing_key(task_group_id, scheduler_id),
        cc=[],
        body=body,
    )


async def _resolve_dependents(
    db: Db, record: TaskRecord, now_ms: int, messages: list[Message]
) -> None:
    """Satisfy the edges this resolution satisfies; schedule dependents left with none open.

    Costs one row per dependent edge still open: no scan over the dependent's other
    dependencies (protocol.md, "Dependencies").
    """
    completed = record.state is TaskState.completed
    rows = await db.all(
        "SELECT dependent_task_id, requires FROM dependencies"
        " WHERE required_task_id = ? AND satisfied = 0",
        (record.task_id,),
    )
    for dependent_id, requires in rows:
        if dependent_id == record.task_id or not (completed or requires == "all-resolved"):
            continue
        await db.run(
            "UPDATE dependencies SET satisfied = 1 WHERE required_task_id = ? AND dependent_task_id = ?",
            (record.task_id, dependent_id),
        )
        left = await db.one(
            "UPDATE tasks SET unresolved_deps = unresolved_deps - 1 WHERE task_id = ?"
            " RETURNING unresolved_deps",
            (dependent_id,),
        )
        if left is not None and left[0] == 0:
            await schedule_if_ready(db, dependent_id, now_ms, messages)


async def schedule_if_ready(db: Db, task_id: str, now_ms: int, messages: list[Message]) -> None:
    dependent = await load_record(db, task_id)
    if (
        dependent is None
        or dependent.state is not TaskState.unscheduled
        or now_ms >= dependent.deadline_ms
    ):
        return
    before = dependent.state
    messages += lifecycle.schedule(dependent, now_ms)
    await save_record(db, dependent, before, now_ms, messages)
