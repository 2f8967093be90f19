"""Transactions on tasks and task groups, written once for both stores (db.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from clients.protocol.errors import ApiError, conflict, input_error, not_found
from clients.protocol.events import (
    Exchange,
    Message,
    TaskGroupPriorityChanged,
    TaskPriorityChanged,
    group_routing_key,
)
from clients.protocol.states import Priority, ReasonResolved, RunState
from clients.protocol.tasks import Task, TaskStatus

from ..core import lifecycle
from ..core.lifecycle import TaskRecord
from .db import Db, scalar
from .records import (
    group_message,
    insert_pending,
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


async def create_task(
    db: Db, task_id: str, task: Task, deadline: int, expires: int, now_ms: int
) -> tuple[TaskStatus, list[Message], bool]:
    """Insert the task, or answer for an identical earlier one; the bool says it was new.

    The row is inserted first (nothing is written if the taskId is taken, and the earlier
    task is loaded only then): a new task costs no read of its own row. A change made before
    an error (409, 400) is undone with the transaction.
    """
    edges, problems = await _read_dependencies(db, task_id, task, deadline)
    unresolved = sum(1 for edge in edges if not edge[3])
    record = TaskRecord(task_id, task, [], task.retries, deadline)
    messages = [lifecycle.message(record, Exchange.task_defined)]
    if unresolved == 0:
        # Scheduled before it is written: one INSERT of the pending task, not an INSERT of
        # the unscheduled one and then an UPDATE (a new task has no claim to clear).
        messages += lifecycle.schedule(record, now_ms)
    if not await insert_record(db, record, expires, unresolved):
        existing = await load_record(db, task_id)
        if existing is None or existing.task != task:
            raise conflict(f"taskId {task_id} already used by another task")
        return existing.status(), [], False
    await _join_group(db, task, expires)
    if problems:
        raise problems
    if edges:
        await db.run_many(
            "INSERT INTO dependencies (required_task_id, dependent_task_id, requires, satisfied)"
            " VALUES (?, ?, ?, ?)",
            edges,
        )
    if unresolved == 0:
        await insert_pending(db, record, now_ms)
    return lifecycle.status_after(record, messages), messages, True


async def _join_group(db: Db, task: Task, expires: int) -> None:
    """Count the task in its group (created if new), whose expiry it may extend; 409 if the
    group is sealed or has another schedulerId (the caller's transaction then undoes it)."""
    row = await db.one(
        "INSERT INTO task_groups (task_group_id, scheduler_id, expires, sealed, active)"
        " VALUES (?, ?, ?, NULL, 1) ON CONFLICT (task_group_id) DO UPDATE"
        " SET active = task_groups.active + 1, expires = CASE"
        " WHEN task_groups.expires > excluded.expires THEN task_groups.expires"
        " ELSE excluded.expires END RETURNING scheduler_id, sealed",
        (task.task_group_id, task.scheduler_id, expires + GROUP_EXPIRES_EXTENSION_MS),
    )
    assert row is not None
    scheduler_id, sealed = row
    if scheduler_id != task.scheduler_id:
        raise conflict(
            f"task group {task.task_group_id} has schedulerId {scheduler_id!r};"
            f" the task has {task.scheduler_id!r}"
        )
    if sealed is not None:
        raise conflict(f"task group {task.task_group_id} is sealed; no task may be added")


Edge = tuple[str, str, str, int]


async def _read_dependencies(
    db: Db, task_id: str, task: Task, deadline: int
) -> tuple[list[Edge], ApiError | None]:
    """The edges to insert, and the InputError naming bad dependencies, if any."""
    missing: list[str] = []
    expiring: list[str] = []
    edges: list[Edge] = []
    for dependency in task.dependencies:
        if dependency == task_id:
            edges.append((task_id, task_id, task.requires, 0))
            continue
        # Shared lock: a dependency resolving at the same time either commits before this
        # read or sees this edge when it looks for its dependents (PostgreSQL).
        row = await db.one(
            f"SELECT state, expires FROM tasks WHERE task_id = ?{db.dialect.for_share}",
            (dependency,),
        )
        if row is None:
            missing.append(dependency)
            continue
        state, dep_expires = row
        if dep_expires < deadline:
            expiring.append(dependency)
        done = state == "completed" or (task.requires == "all-resolved" and state in RESOLVED)
        edges.append((dependency, task_id, task.requires, int(done)))
    if not (missing or expiring):
        return edges, None
    problems = []
    if missing:
        problems.append(f"these dependencies do not exist: {', '.join(missing[:20])}")
    if expiring:
        problems.append(
            f"these dependencies expire before the deadline: {', '.join(expiring[:20])}"
        )
    return edges, input_error(
        "; ".join(problems),
        dependencies=task.dependencies,
        missingTaskDependencies=missing,
        expiringTaskDependencies=expiring,
    )


async def _require(db: Db, task_id: str) -> TaskRecord:
    record = await load_record(db, task_id)
    if record is None:
        raise not_found(f"task {task_id} not found")
    return record


async def change_task(
    db: Db,
    task_id: str,
    change: Callable[[TaskRecord], list[Message]],
    now_ms: int,
) -> Result:
    """Load, apply a lifecycle change, save. 404 for an unknown task."""
    record = await _require(db, task_id)
    before = record.state
    messages = change(record)
    status = lifecycle.status_after(record, messages)
    if messages:
        await save_record(db, record, before, now_ms, messages)
    return status, messages


async def change_priority(db: Db, task_id: str, new: Priority, now_ms: int) -> Result:
    record = await _require(db, task_id)
    before = record.state
    old = lifecycle.change_priority(record, new, now_ms)
    messages: list[Message] = []
    await save_record(db, record, before, now_ms, messages, definition_changed=True)
    body = TaskPriorityChanged(status=record.status(), old_priority=old, new_priority=new)
    messages.append(lifecycle.message(record, Exchange.task_priority_changed))
    messages[-1].body = body
    return record.status(), messages


async def resolve_run(
    db: Db,
    task_id: str,
    run_id: int,
    state: RunState,
    reason: ReasonResolved,
    now_ms: int,
) -> Result:
    record = await _require(db, task_id)
    if not 0 <= run_id < len(record.runs):
        raise not_found(f"run {run_id} of task {task_id} not found")
    before = record.state
    messages = lifecycle.resolve(record, run_id, state, reason, now_ms)
    status = lifecycle.status_after(record, messages)
    if messages:
        await save_record(db, record, before, now_ms, messages)
    return status, messages


async def group_row(db: Db, task_group_id: str) -> tuple[str, int, int | None]:
    row = await db.one(
        "SELECT scheduler_id, expires, sealed FROM task_groups WHERE task_group_id = ?",
        (task_group_id,),
    )
    if row is None:
        raise not_found(f"task group {task_group_id} not found")
    return row


async def seal_task_group(
    db: Db, task_group_id: str, now_ms: int
) -> tuple[tuple[str, int, int | None], list[Message]]:
    await group_row(db, task_group_id)
    await db.run(
        "UPDATE task_groups SET sealed = ? WHERE task_group_id = ? AND sealed IS NULL",
        (now_ms, task_group_id),
    )
    row = await group_row(db, task_group_id)
    return row, [group_message(Exchange.task_group_sealed, task_group_id, row)]


async def _active_records(db: Db, task_group_id: str) -> AsyncIterator[TaskRecord]:
    """The group's unresolved tasks, each loaded just before it is used: changing one may
    schedule another (an all-resolved dependent), so no record is read ahead of time."""
    ids = await db.all(
        "SELECT task_id FROM tasks WHERE task_group_id = ?"
        " AND state IN ('unscheduled', 'pending', 'running') ORDER BY task_id",
        (task_group_id,),
    )
    for (task_id,) in ids:
        record = await load_record(db, task_id)
        if record is not None and record.active:
            yield record


async def cancel_task_group(
    db: Db, task_group_id: str, now_ms: int
) -> tuple[int, list[str], list[Message]]:
    """Cancel every unresolved task of a sealed group: (group size, canceled ids, messages)."""
    _scheduler_id, _expires, sealed = await group_row(db, task_group_id)
    if sealed is None:
        raise conflict(f"task group {task_group_id} must be sealed before it can be canceled")
    messages: list[Message] = []
    canceled: list[str] = []
    async for record in _active_records(db, task_group_id):
        if now_ms >= record.deadline_ms:
            continue
        before = record.state
        messages += lifecycle.cancel(record, now_ms)
        await save_record(db, record, before, now_ms, messages)
        canceled.append(record.task_id)
    size = await scalar(db, "SELECT count(*) FROM tasks WHERE task_group_id = ?", (task_group_id,))
    return size, canceled, messages


async def change_group_priority(
    db: Db, task_group_id: str, new: Priority, now_ms: int
) -> tuple[str, list[str], list[Message]]:
    scheduler_id, _expires, _sealed = await group_row(db, task_group_id)
    messages: list[Message] = []
    changed: list[str] = []
    async for record in _active_records(db, task_group_id):
        if now_ms >= record.deadline_ms or record.task.priority is new:
            continue
        before = record.state
        old = lifecycle.change_priority(record, new, now_ms)
        await save_record(db, record, before, now_ms, messages, definition_changed=True)
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


async def resolve_due(db: Db, now_ms: int, limit: int) -> tuple[int, list[Message]]:
    """Resolve expired claims and passed deadlines, up to `limit` of each (protocol.md).

    Several replicas may run this at once: each locks the rows it takes and skips those
    another holds, so every expired claim and passed deadline is resolved once.
    """
    messages: list[Message] = []
    expired = await db.all(
        "SELECT c.task_id, c.run_id FROM claims c JOIN tasks t ON t.task_id = c.task_id"
        " WHERE c.taken_until <= ? ORDER BY c.taken_until LIMIT ?"
        + db.dialect.lock_skipping("c", "t"),
        (now_ms, limit),
    )
    for task_id, run_id in expired:
        record = await load_record(db, task_id)
        if record is None:
            continue
        before = record.state
        messages += lifecycle.resolve(
            record, run_id, RunState.exception, ReasonResolved.claim_expired, now_ms
        )
        await save_record(db, record, before, now_ms, messages)
    overdue = await db.all(
        "SELECT task_id FROM tasks WHERE deadline <= ? AND state IN ('unscheduled', 'pending', 'running')"
        " ORDER BY deadline LIMIT ?" + db.dialect.lock_skipping("tasks"),
        (now_ms, limit),
    )
    for (task_id,) in overdue:
        record = await load_record(db, task_id)
        if record is None:
            continue
        before = record.state
        messages += lifecycle.deadline_exceeded(record, now_ms)
        await save_record(db, record, before, now_ms, messages)
    return len(expired) + len(overdue), messages
