"""Run and task states, the reasons, and the run state machine (protocol.md, "Run states").

A run moves only along TRANSITIONS; in SQL every change is an update guarded by the states it
may come from, and a guard that matches nothing is a 409.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "EXCEPTION_REASONS_REPORTABLE",
    "PRIORITIES",
    "RETRY_REASONS",
    "TRANSITIONS",
    "Priority",
    "ReasonCreated",
    "ReasonResolved",
    "RunState",
    "TaskState",
    "priority_rank",
    "transition_allowed",
]


class RunState(StrEnum):
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"
    exception = "exception"


class TaskState(StrEnum):
    unscheduled = "unscheduled"
    pending = "pending"
    running = "running"
    completed = "completed"
    failed = "failed"
    exception = "exception"


class ReasonCreated(StrEnum):
    scheduled = "scheduled"
    retry = "retry"
    task_retry = "task-retry"
    rerun = "rerun"
    exception = "exception"


class ReasonResolved(StrEnum):
    completed = "completed"
    failed = "failed"
    deadline_exceeded = "deadline-exceeded"
    canceled = "canceled"
    claim_expired = "claim-expired"
    worker_shutdown = "worker-shutdown"
    malformed_payload = "malformed-payload"
    resource_unavailable = "resource-unavailable"
    internal_error = "internal-error"
    intermittent_task = "intermittent-task"
    superseded = "superseded"


class Priority(StrEnum):
    highest = "highest"
    very_high = "very-high"
    high = "high"
    medium = "medium"
    low = "low"
    very_low = "very-low"
    lowest = "lowest"


# Highest first; the rank stored with a pending run is 7 for highest down to 1 for lowest.
PRIORITIES: tuple[Priority, ...] = tuple(Priority)


def priority_rank(priority: Priority) -> int:
    return len(PRIORITIES) - PRIORITIES.index(priority)


TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.pending: frozenset({RunState.running, RunState.exception}),
    RunState.running: frozenset({RunState.completed, RunState.failed, RunState.exception}),
    RunState.completed: frozenset(),
    RunState.failed: frozenset(),
    RunState.exception: frozenset(),
}


def transition_allowed(current: RunState, target: RunState) -> bool:
    return target in TRANSITIONS[current]


# Exception reasons a worker may report, and the ones that add a retry run (with the
# reasonCreated of that run) while retriesLeft > 0.
EXCEPTION_REASONS_REPORTABLE: frozenset[ReasonResolved] = frozenset(
    {
        ReasonResolved.worker_shutdown,
        ReasonResolved.malformed_payload,
        ReasonResolved.resource_unavailable,
        ReasonResolved.internal_error,
        ReasonResolved.intermittent_task,
    }
)
RETRY_REASONS: dict[ReasonResolved, ReasonCreated] = {
    ReasonResolved.worker_shutdown: ReasonCreated.retry,
    ReasonResolved.intermittent_task: ReasonCreated.task_retry,
    ReasonResolved.claim_expired: ReasonCreated.retry,
}
