"""Loading and saving task records, and what every saved change keeps true (see schema.py).

These functions run inside one transaction in the database thread; they never commit.
"""

from __future__ import annotations

import sqlite3

import msgspec

from clients.protocol.events import Exchange, Message, TaskGroupChanged, group_routing_key
from clients.protocol.states import RunState, TaskState, priority_rank
from clients.protocol.tasks import RunInfo, Task
from clients.protocol.times import format_ms, parse_time

from ..core import lifecycle
from ..core.lifecycle import TaskRecord

__all__ = ["load_record", "save_record"]

_encode = msgspec.json.Encoder().encode
_decode_task = msgspec.json.Decoder(Task).decode
_decode_runs = msgspec.json.Decoder(list[RunInfo]).decode

RECORD_COLUMNS = "task_id, definition, runs, retries_left, deadline, state"


def record_of_row(row: tuple[str, bytes, bytes, int, int, str]) -> TaskRecord:
    task_id, definition, runs, retries_left, deadline, state = row
    decoded = _decode_runs(runs)
    # A task with runs stored as `unscheduled` waits to rerun (lifecycle.await_rerun).
    awaiting = bool(decoded) and state == TaskState.unscheduled.value
    return TaskRecord(task_id, _decode_task(definition), decoded, retries_left, deadline, awaiting)


def load_record(conn: sqlite3.Connection, task_id: str) -> TaskRecord | None:
    row = conn.execute(
        f"SELECT {RECORD_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)
    ).fetchone()
    return None if row is None else record_of_row(row)


def insert_record(
    conn: sqlite3.Connection, record: TaskRecord, expires: int, unresolved: int
) -> None:
    task = record.task
    conn.execute(
        "INSERT INTO tasks (task_id, task_group_id, scheduler_id, project_id, task_queue_id,"
        " definition, runs, retries_left, state, deadline, expires, unresolved_deps)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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


def save_record(
    conn: sqlite3.Connection,
    record: TaskRecord,
    before: TaskState,
    now_ms: int,
    messages: list[Message],
) -> None:
    """Write the record back and keep the invariants; appends the messages that follow."""
    conn.execute(
        "UPDATE tasks SET definition = ?, runs = ?, retries_left = ?, state = ? WHERE task_id = ?",
        (
            _encode(record.task),
            _encode(record.runs),
            record.retries_left,
            record.state.value,
            record.task_id,
        ),
    )
    sync_run_rows(conn, record, now_ms)
    was_active = before not in lifecycle.RESOLVED_TASK_STATES
    if was_active != record.active:
        _count_group_activity(conn, record, 1 if record.active else -1, messages)
    if was_active and not record.active:
        _resolve_dependents(conn, record, now_ms, messages)


def sync_run_rows(conn: sqlite3.Connection, record: TaskRecord, now_ms: int) -> None:
    """Make the pending and claims rows of the task match its last run."""
    run = record.last_run()
    state = run.state if run is not None else None
    if state is RunState.pending and run is not None:
        conn.execute(
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
    else:
        conn.execute("DELETE FROM pending WHERE task_id = ?", (record.task_id,))
    if state is RunState.running and run is not None:
        conn.execute(
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
    else:
        conn.execute("DELETE FROM claims WHERE task_id = ?", (record.task_id,))


def _count_group_activity(
    conn: sqlite3.Connection, record: TaskRecord, delta: int, messages: list[Message]
) -> None:
    row = conn.execute(
        "UPDATE task_groups SET active = active + ? WHERE task_group_id = ?"
        " RETURNING active, scheduler_id, expires, sealed",
        (delta, record.task.task_group_id),
    ).fetchone()
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


def _resolve_dependents(
    conn: sqlite3.Connection, record: TaskRecord, now_ms: int, messages: list[Message]
) -> None:
    """Satisfy the edges this resolution satisfies; schedule dependents left with none open.

    Costs one row per dependent edge still open: no scan over the dependent's other
    dependencies (protocol.md, "Dependencies").
    """
    completed = record.state is TaskState.completed
    rows = conn.execute(
        "SELECT dependent_task_id, requires FROM dependencies"
        " WHERE required_task_id = ? AND satisfied = 0",
        (record.task_id,),
    ).fetchall()
    for dependent_id, requires in rows:
        if dependent_id == record.task_id or not (completed or requires == "all-resolved"):
            continue
        conn.execute(
            "UPDATE dependencies SET satisfied = 1 WHERE required_task_id = ? AND dependent_task_id = ?",
            (record.task_id, dependent_id),
        )
        left = conn.execute(
            "UPDATE tasks SET unresolved_deps = unresolved_deps - 1 WHERE task_id = ?"
            " RETURNING unresolved_deps",
            (dependent_id,),
        ).fetchone()
        if left is not None and left[0] == 0:
            schedule_if_ready(conn, dependent_id, now_ms, messages)


def schedule_if_ready(
    conn: sqlite3.Connection, task_id: str, now_ms: int, messages: list[Message]
) -> None:
    dependent = load_record(conn, task_id)
    if (
        dependent is None
        or dependent.state is not TaskState.unscheduled
        or now_ms >= dependent.deadline_ms
    ):
        return
    before = dependent.state
    messages += lifecycle.schedule(dependent, now_ms)
    save_record(conn, dependent, before, now_ms, messages)
