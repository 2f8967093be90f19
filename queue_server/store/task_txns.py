"""Transactions on tasks and task groups, each run whole in the database thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

from clients.protocol.errors import conflict, input_error, not_found
from clients.protocol.events import (
    Exchange,
    Message,
    TaskGroupPriorityChanged,
    TaskPriorityChanged,
    group_routing_key,
)
from clients.protocol.states import Priority, ReasonResolved, RunState, TaskState
from clients.protocol.tasks import Task, TaskStatus

from ..core import lifecycle
from ..core.lifecycle import TaskRecord
from .records import (
    group_message,
    insert_record,
    load_record,
    save_record,
)

__all__ = [
    "cancel_task_group",
    "change_group_priority",
    "change_task",
    "create_task",
    "seal_task_group",
]

# A group outlives its last task by this much (Taskcluster's taskGroupExpiresExtension).
GROUP_EXPIRES_EXTENSION_MS = 6_220_800_000
RESOLVED = ("completed", "failed", "exception")

Result = tuple[TaskStatus, list[Message]]


def create_task(
    conn: sqlite3.Connection, task_id: str, task: Task, deadline: int, expires: int, now_ms: int
) -> tuple[TaskStatus, list[Message], bool]:
    """Insert the task, or answer for an identical earlier one; the bool says it was new."""
    existing = load_record(conn, task_id)
    if existing is not None:
        if existing.task != task:
            raise conflict(f"taskId {task_id} already used by another task")
        return existing.status(), [], False
    _join_group(conn, task, expires)
    unresolved = _insert_dependencies(conn, task_id, task, deadline)
    record = TaskRecord(task_id, task, [], task.retries, deadline)
    insert_record(conn, record, expires, unresolved)
    conn.execute(
        "UPDATE task_groups SET active = active + 1 WHERE task_group_id = ?", (task.task_group_id,)
    )
    messages = [lifecycle.message(record, Exchange.task_defined)]
    if unresolved == 0:
        messages += lifecycle.schedule(record, now_ms)
        save_record(conn, record, TaskState.unscheduled, now_ms, messages)
    return record.status(), messages, True


def _join_group(conn: sqlite3.Connection, task: Task, expires: int) -> None:
    group_expires = expires + GROUP_EXPIRES_EXTENSION_MS
    row = conn.execute(
        "SELECT scheduler_id, sealed, expires FROM task_groups WHERE task_group_id = ?",
        (task.task_group_id,),
    ).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO task_groups (task_group_id, scheduler_id, expires, sealed, active)"
            " VALUES (?, ?, ?, NULL, 0)",
            (task.task_group_id, task.scheduler_id, group_expires),
        )
        return
    scheduler_id, sealed, current_expires = row
    if scheduler_id != task.scheduler_id:
        raise conflict(
            f"task group {task.task_group_id} has schedulerId {scheduler_id!r};"
            f" the task has {task.scheduler_id!r}"
        )
    if sealed is not None:
        raise conflict(f"task group {task.task_group_id} is sealed; no task may be added")
    if group_expires > current_expires:
        conn.execute(
            "UPDATE task_groups SET expires = ? WHERE task_group_id = ?",
            (group_expires, task.task_group_id),
        )


def _insert_dependencies(conn: sqlite3.Connection, task_id: str, task: Task, deadline: int) -> int:
    """Insert the edges; the count of those not yet satisfied. InputError for bad ones."""
    missing: list[str] = []
    expiring: list[str] = []
    edges: list[tuple[str, str, str, int]] = []
    for dependency in task.dependencies:
        if dependency == task_id:
            edges.append((task_id, task_id, task.requires, 0))
            continue
        row = conn.execute(
            "SELECT state, expires FROM tasks WHERE task_id = ?", (dependency,)
        ).fetchone()
        if row is None:
            missing.append(dependency)
            continue
        state, dep_expires = row
        if dep_expires < deadline:
            expiring.append(dependency)
        done = state == "completed" or (task.requires == "all-resolved" and state in RESOLVED)
        edges.append((dependency, task_id, task.requires, int(done)))
    if missing or expiring:
        problems = []
        if missing:
            problems.append(f"these dependencies do not exist: {', '.join(missing[:20])}")
        if expiring:
            problems.append(
                f"these dependencies expire before the deadline: {', '.join(expiring[:20])}"
            )
        raise input_error(
            "; ".join(problems),
            dependencies=task.dependencies,
            missingTaskDependencies=missing,
            expiringTaskDependencies=expiring,
        )
    conn.executemany(
        "INSERT INTO dependencies (required_task_id, dependent_task_id, requires, satisfied)"
        " VALUES (?, ?, ?, ?)",
        edges,
    )
    return sum(1 for edge in edges if not edge[3])


def _require(conn: sqlite3.Connection, task_id: str) -> TaskRecord:
    record = load_record(conn, task_id)
    if record is None:
        raise not_found(f"task {task_id} not found")
    return record


def change_task(
    conn: sqlite3.Connection,
    task_id: str,
    change: Callable[[TaskRecord], list[Message]],
    now_ms: int,
) -> Result:
    """Load, apply a lifecycle change, save. 404 for an unknown task."""
    record = _require(conn, task_id)
    before = record.state
    messages = change(record)
    if messages:
        save_record(conn, record, before, now_ms, messages)
    return record.status(), messages


def change_priority(conn: sqlite3.Connection, task_id: str, new: Priority, now_ms: int) -> Result:
    record = _require(conn, task_id)
    before = record.state
    old = lifecycle.change_priority(record, new, now_ms)
    messages: list[Message] = []
    save_record(conn, record, before, now_ms, messages)
    body = TaskPriorityChanged(status=record.status(), old_priority=old, new_priority=new)
    messages.append(lifecycle.message(record, Exchange.task_priority_changed))
    messages[-1].body = body
    return record.status(), messages


def resolve_run(
    conn: sqlite3.Connection,
    task_id: str,
    run_id: int,
    state: RunState,
    reason: ReasonResolved,
    now_ms: int,
) -> Result:
    record = _require(conn, task_id)
    if not 0 <= run_id < len(record.runs):
        raise not_found(f"run {run_id} of task {task_id} not found")
    return change_task(
        conn, task_id, lambda r: lifecycle.resolve(r, run_id, state, reason, now_ms), now_ms
    )


def group_row(conn: sqlite3.Connection, task_group_id: str) -> tuple[str, int, int | None]:
    row = conn.execute(
        "SELECT scheduler_id, expires, sealed FROM task_groups WHERE task_group_id = ?",
        (task_group_id,),
    ).fetchone()
    if row is None:
        raise not_found(f"task group {task_group_id} not found")
    return row  # type: ignore[no-any-return]


def seal_task_group(
    conn: sqlite3.Connection, task_group_id: str, now_ms: int
) -> tuple[tuple[str, int, int | None], list[Message]]:
    scheduler_id, expires, sealed = group_row(conn, task_group_id)
    if sealed is None:
        sealed = now_ms
        conn.execute(
            "UPDATE task_groups SET sealed = ? WHERE task_group_id = ?", (sealed, task_group_id)
        )
    row = (scheduler_id, expires, sealed)
    return row, [group_message(Exchange.task_group_sealed, task_group_id, row)]


def _active_records(conn: sqlite3.Connection, task_group_id: str) -> Iterator[TaskRecord]:
    """The group's unresolved tasks, each loaded just before it is used: changing one may
    schedule another (an all-resolved dependent), so no record is read ahead of time."""
    ids = conn.execute(
        "SELECT task_id FROM tasks WHERE task_group_id = ?"
        " AND state IN ('unscheduled', 'pending', 'running') ORDER BY task_id",
        (task_group_id,),
    ).fetchall()
    for (task_id,) in ids:
        record = load_record(conn, task_id)
        if record is not None and record.active:
            yield record


def cancel_task_group(
    conn: sqlite3.Connection, task_group_id: str, now_ms: int
) -> tuple[int, list[str], list[Message]]:
    """Cancel every unresolved task of a sealed group: (group size, canceled ids, messages)."""
    _scheduler_id, _expires, sealed = group_row(conn, task_group_id)
    if sealed is None:
        raise conflict(f"task group {task_group_id} must be sealed before it can be canceled")
    messages: list[Message] = []
    canceled: list[str] = []
    for record in _active_records(conn, task_group_id):
        if now_ms >= record.deadline_ms:
            continue
        before = record.state
        messages += lifecycle.cancel(record, now_ms)
        save_record(conn, record, before, now_ms, messages)
        canceled.append(record.task_id)
    (size,) = conn.execute(
        "SELECT count(*) FROM tasks WHERE task_group_id = ?", (task_group_id,)
    ).fetchone()
    return size, canceled, messages


def change_group_priority(
    conn: sqlite3.Connection, task_group_id: str, new: Priority, now_ms: int
) -> tuple[str, list[str], list[Message]]:
    scheduler_id, _expires, _sealed = group_row(conn, task_group_id)
    messages: list[Message] = []
    changed: list[str] = []
    for record in _active_records(conn, task_group_id):
        if now_ms >= record.deadline_ms or record.task.priority is new:
            continue
        before = record.state
        old = lifecycle.change_priority(record, new, now_ms)
        save_record(conn, record, before, now_ms, messages)
        note = lifecycle.message(record, Exchange.task_priority_changed)
        note.body = TaskPriorityChanged(status=record.status(), old_priority=old, new_priority=new)
        messages.append(note)
        changed.append(record.task_id)
    messages.append(
        Message(
            exchange=Exchange.task_group_priority_changed,
            routing_key=group_routing_key(task_group_id, scheduler_id),
            cc=[],
            body=TaskGroupPriorityChanged(
                task_group_id=task_group_id,
                scheduler_id=scheduler_id,
                new_priority=new,
                tasks_affected=len(changed),
            ),
        )
    )
    return scheduler_id, changed, messages


def resolve_due(conn: sqlite3.Connection, now_ms: int, limit: int) -> tuple[int, list[Message]]:
    """Resolve expired claims and passed deadlines, up to `limit` of each (protocol.md)."""
    messages: list[Message] = []
    expired = conn.execute(
        "SELECT task_id, run_id FROM claims WHERE taken_until <= ? ORDER BY taken_until LIMIT ?",
        (now_ms, limit),
    ).fetchall()
    for task_id, run_id in expired:
        record = load_record(conn, task_id)
        if record is None:
            continue
        before = record.state
        messages += lifecycle.resolve(
            record, run_id, RunState.exception, ReasonResolved.claim_expired, now_ms
        )
        save_record(conn, record, before, now_ms, messages)
    overdue = conn.execute(
        "SELECT task_id FROM tasks WHERE deadline <= ? AND state IN ('unscheduled', 'pending', 'running')"
        " ORDER BY deadline LIMIT ?",
        (now_ms, limit),
    ).fetchall()
    for (task_id,) in overdue:
        record = load_record(conn, task_id)
        if record is None:
            continue
        before = record.state
        messages += lifecycle.deadline_exceeded(record, now_ms)
        save_record(conn, record, before, now_ms, messages)
    return len(expired) + len(overdue), messages
