"""Rerun of a resolved task and everything downstream of it (protocol.md, "rerunSubtree").

One transaction: the given task gets a new pending run at once; every resolved task that
depends on it, directly or through other tasks, goes back to `unscheduled` (keeping its runs)
with its edges from the rerun tasks unsatisfied again, so the ordinary dependency mechanism
releases it, with a `rerun` run, when those complete. Tasks still waiting keep waiting, now
also for the rerun tasks they depend on. Nothing outside the subtree changes.
"""

from __future__ import annotations

from collections.abc import Callable

from clients.protocol.errors import conflict
from clients.protocol.events import Message
from clients.protocol.states import TaskState
from clients.protocol.tasks import TaskStatus

from ..core import lifecycle
from ..core.lifecycle import TaskRecord
from .db import Db, scalar
from .records import load_record, save_record, schedule_if_ready
from .task_txns import _require

__all__ = ["rerun_subtree"]

Authorize = Callable[[list[TaskRecord]], None]


async def _descendants(db: Db, root: str) -> list[TaskRecord]:
    """Every task depending on `root` directly or transitively, each once, nearest first."""
    seen, found, frontier = {root}, [], [root]
    while frontier:
        rows = await db.all(
            "SELECT dependent_task_id FROM dependencies WHERE required_task_id IN"
            f" ({', '.join('?' * len(frontier))}) ORDER BY dependent_task_id",
            frontier,
        )
        frontier = []
        for (task_id,) in rows:
            if task_id not in seen:
                seen.add(task_id)
                frontier.append(task_id)
                record = await load_record(db, task_id)
                if record is not None:
                    found.append(record)
    return found


def _check(root: TaskRecord, below: list[TaskRecord], now_ms: int) -> list[TaskRecord]:
    """The resolved tasks to reset; 409 naming what makes the rerun impossible."""
    if root.active:
        raise conflict(f"task {root.task_id} is not resolved; there is nothing to rerun")
    busy = [r.task_id for r in below if r.state in (TaskState.pending, TaskState.running)]
    if busy:
        raise conflict(
            "these dependent tasks are pending or running; wait for them or cancel them:"
            f" {', '.join(busy[:20])}"
        )
    reset = [r for r in below if not r.active]
    late = [r.task_id for r in [root, *reset] if now_ms >= r.deadline_ms]
    if late:
        raise conflict(f"these tasks are past their deadline: {', '.join(late[:20])}")
    full = [r.task_id for r in [root, *reset] if len(r.runs) >= lifecycle.MAX_RUNS]
    if full:
        raise conflict(f"these tasks have {lifecycle.MAX_RUNS} runs already: {', '.join(full)}")
    return reset


async def _reopen_edges(db: Db, rerun: set[str], below: list[TaskRecord]) -> None:
    """Unsatisfy every edge from a rerun task into the subtree, keeping unresolved_deps."""
    for record in below:
        placeholders = ", ".join("?" * len(rerun))
        reopened = await db.run(
            "UPDATE dependencies SET satisfied = 0 WHERE dependent_task_id = ? AND satisfied = 1"
            f" AND required_task_id IN ({placeholders})",
            (record.task_id, *rerun),
        )
        if reopened:
            await db.run(
                "UPDATE tasks SET unresolved_deps = unresolved_deps + ? WHERE task_id = ?",
                (reopened, record.task_id),
            )


async def rerun_subtree(
    db: Db, task_id: str, now_ms: int, authorize: Authorize
) -> tuple[tuple[TaskStatus, list[str]], list[Message]]:
    root = await _require(db, task_id)
    below = await _descendants(db, task_id)
    reset = _check(root, below, now_ms)
    authorize([root, *reset])
    await _reopen_edges(db, {root.task_id, *(r.task_id for r in reset)}, below)
    messages: list[Message] = []
    for record in reset:
        before = record.state
        lifecycle.await_rerun(record, now_ms)
        await save_record(db, record, before, now_ms, messages)
    for record in reset:  # one whose edges were all satisfied elsewhere is released now
        left = await scalar(
            db, "SELECT unresolved_deps FROM tasks WHERE task_id = ?", (record.task_id,)
        )
        if left == 0:
            await schedule_if_ready(db, record.task_id, now_ms, messages)
    before = root.state
    messages += lifecycle.rerun(root, now_ms)
    await save_record(db, root, before, now_ms, messages)
    return (root.status(), [r.task_id for r in reset]), messages
