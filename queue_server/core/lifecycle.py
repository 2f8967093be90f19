"""The run state machine applied to one task (protocol.md, "Run states" and "Retries").

Every function takes a TaskRecord and `now`, changes the record in place and returns the
messages the change publishes; it raises ApiError for a change the protocol forbids. The
store loads the record, calls one of these, and writes the record back in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from msgspec import UNSET

from clients.protocol.errors import conflict
from clients.protocol.events import Exchange, Message, TaskMessage, TaskTags, task_routing_key
from clients.protocol.states import (
    RETRY_REASONS,
    Priority,
    ReasonCreated,
    ReasonResolved,
    RunState,
    TaskState,
    transition_allowed,
)
from clients.protocol.tasks import RunInfo, Task, TaskStatus
from clients.protocol.times import format_ms

__all__ = [
    "MAX_RUNS",
    "TaskRecord",
    "add_exception_run",
    "await_rerun",
    "cancel",
    "change_priority",
    "claim",
    "deadline_exceeded",
    "message",
    "reclaim",
    "rerun",
    "resolve",
    "schedule",
    "status_after",
    "unclaim",
]

MAX_RUNS = 50
ACTIVE_RUN_STATES = frozenset({RunState.pending, RunState.running})
RESOLVED_TASK_STATES = frozenset({TaskState.completed, TaskState.failed, TaskState.exception})


# A task's state is its last run's (a dict lookup: TaskState(value) is an Enum call).
_TASK_STATE_OF_RUN = {run: TaskState(run.value) for run in RunState}


@dataclass
class TaskRecord:
    task_id: str
    task: Task
    runs: list[RunInfo]
    retries_left: int
    deadline_ms: int
    # Resolved once, now waiting for rerun dependencies to complete (rerunSubtree): the task
    # is unscheduled again, keeps its runs, and gets a `rerun` run when released.
    awaiting_rerun: bool = False

    @property
    def state(self) -> TaskState:
        if self.awaiting_rerun or not self.runs:
            return TaskState.unscheduled
        return _TASK_STATE_OF_RUN[self.runs[-1].state]

    @property
    def active(self) -> bool:
        """Not yet resolved: unscheduled, pending or running."""
        return self.state not in RESOLVED_TASK_STATES

    def last_run(self) -> RunInfo | None:
        return self.runs[-1] if self.runs else None

    def status(self) -> TaskStatus:
        task = self.task
        return TaskStatus(
            task_id=self.task_id,
            provisioner_id=task.provisioner_id,
            worker_type=task.worker_type,
            task_queue_id=task.task_queue_id,
            scheduler_id=task.scheduler_id,
            project_id=task.project_id,
            task_group_id=task.task_group_id,
            priority=task.priority,
            deadline=task.deadline,
            expires=task.expires,
            retries_left=self.retries_left,
            state=self.state,
            runs=list(self.runs),
        )


# The exchanges whose messages name the worker of the run (protocol.md, "Events").
_NAMING_THE_WORKER = frozenset(
    {Exchange.task_running, Exchange.task_completed, Exchange.task_failed, Exchange.task_exception}
)


def message(record: TaskRecord, exchange: Exchange, run: RunInfo | None = None) -> Message:
    """A task exchange message about `record`, after the change (protocol.md, "Events")."""
    task = record.task
    status = record.status()
    body = TaskMessage(status=status, task=TaskTags(tags=task.tags))
    run_id: int | None = None
    worker_group: str | None = None
    worker_id: str | None = None
    if run is not None:
        run_id = body.run_id = run.run_id
        if run.worker_group is not UNSET:
            worker_group = run.worker_group
        if run.worker_id is not UNSET:
            worker_id = run.worker_id
        if worker_group is not None and worker_id is not None and exchange in _NAMING_THE_WORKER:
            body.worker_group = worker_group
            body.worker_id = worker_id
        if exchange is Exchange.task_running and run.taken_until is not UNSET:
            body.taken_until = run.taken_until
    return Message(
        exchange=exchange,
        routing_key=task_routing_key(status, run_id, worker_group, worker_id),
        cc=[f"route.{route}" for route in task.routes] if task.routes else [],
        body=body,
    )


def status_after(record: TaskRecord, messages: list[Message]) -> TaskStatus:
    """The record's status after a change that returned `messages` (about the record only):
    the last one's, built after the change, or a new one when there is none."""
    if messages:
        body = messages[-1].body
        if isinstance(body, TaskMessage):
            return body.status
    return record.status()


def _past_deadline(record: TaskRecord, now_ms: int) -> bool:
    return now_ms >= record.deadline_ms


def _check_deadline(record: TaskRecord, now_ms: int, action: str) -> None:
    if _past_deadline(record, now_ms):
        raise conflict(f"cannot {action} task {record.task_id}: its deadline has passed")


def _new_run(record: TaskRecord, reason: ReasonCreated, now_ms: int) -> RunInfo:
    run = RunInfo(
        run_id=len(record.runs),
        state=RunState.pending,
        reason_created=reason,
        scheduled=format_ms(now_ms),
    )
    record.runs.append(run)
    return run


def schedule(
    record: TaskRecord, now_ms: int, reason: ReasonCreated = ReasonCreated.scheduled
) -> list[Message]:
    """Add a pending run; a no-op for a task that already has runs (scheduleTask is idempotent)."""
    _check_deadline(record, now_ms, "schedule")
    if record.awaiting_rerun:
        return _start_rerun(record, now_ms)
    if record.runs:
        return []
    run = _new_run(record, reason, now_ms)
    return [message(record, Exchange.task_pending, run)]


def claim(
    record: TaskRecord, worker_group: str, worker_id: str, now_ms: int, taken_until_ms: int
) -> list[Message]:
    run = record.last_run()
    if run is None or run.state is not RunState.pending:
        raise conflict(f"task {record.task_id} has no pending run")
    _check_deadline(record, now_ms, "claim")
    run.state = RunState.running
    run.worker_group = worker_group
    run.worker_id = worker_id
    run.started = format_ms(now_ms)
    run.taken_until = format_ms(taken_until_ms)
    return [message(record, Exchange.task_running, run)]


def _running_run(record: TaskRecord, run_id: int) -> RunInfo:
    run = record.last_run()
    if run is None or run.run_id != run_id or run.state is not RunState.running:
        raise conflict(f"run {run_id} of task {record.task_id} is resolved or not running")
    return run


def reclaim(record: TaskRecord, run_id: int, now_ms: int, taken_until_ms: int) -> RunInfo:
    _check_deadline(record, now_ms, "reclaim")
    run = _running_run(record, run_id)
    run.taken_until = format_ms(taken_until_ms)
    return run


_RESOLVED_EXCHANGE = {
    RunState.completed: Exchange.task_completed,
    RunState.failed: Exchange.task_failed,
    RunState.exception: Exchange.task_exception,
}


def _resolve_run(run: RunInfo, state: RunState, reason: ReasonResolved, now_ms: int) -> None:
    assert transition_allowed(run.state, state), (run.state, state)
    run.state = state
    run.reason_resolved = reason
    run.resolved = format_ms(now_ms)


def _retry(record: TaskRecord, reason: ReasonResolved, now_ms: int) -> list[Message]:
    created = RETRY_REASONS.get(reason)
    if created is None or record.retries_left <= 0 or len(record.runs) >= MAX_RUNS:
        return []
    if _past_deadline(record, now_ms):
        return []  # the deadline resolver resolves the task; a retry could never run
    record.retries_left -= 1
    run = _new_run(record, created, now_ms)
    return [message(record, Exchange.task_pending, run)]


def resolve(
    record: TaskRecord, run_id: int, state: RunState, reason: ReasonResolved, now_ms: int
) -> list[Message]:
    """Resolve a running run; a repeat of the same resolution republishes (protocol.md)."""
    run = record.runs[run_id] if 0 <= run_id < len(record.runs) else None
    if run is not None and run.state is state and run.reason_resolved == reason:
        return [message(record, _RESOLVED_EXCHANGE[state], run)]
    if reason is not ReasonResolved.claim_expired:
        _check_deadline(record, now_ms, "resolve a run of")
    run = _running_run(record, run_id)
    _resolve_run(run, state, reason, now_ms)
    messages = [message(record, _RESOLVED_EXCHANGE[state], run)]
    if state is RunState.exception:
        messages += _retry(record, reason, now_ms)
    return messages


def add_exception_run(record: TaskRecord, reason: ReasonResolved, now_ms: int) -> list[Message]:
    """Resolve the active run as exception/`reason`, or add one already resolved so."""
    record.awaiting_rerun = False
    run = record.last_run()
    if run is None or run.state not in ACTIVE_RUN_STATES:
        run = _new_run(record, ReasonCreated.exception, now_ms)
    _resolve_run(run, RunState.exception, reason, now_ms)
    return [message(record, Exchange.task_exception, run)]


def cancel(record: TaskRecord, now_ms: int) -> list[Message]:
    _check_deadline(record, now_ms, "cancel")
    if not record.active:
        return []
    return add_exception_run(record, ReasonResolved.canceled, now_ms)


def deadline_exceeded(record: TaskRecord, now_ms: int) -> list[Message]:
    if not record.active:
        return []
    return add_exception_run(record, ReasonResolved.deadline_exceeded, now_ms)


def rerun(record: TaskRecord, now_ms: int) -> list[Message]:
    _check_deadline(record, now_ms, "rerun")
    if record.active:
        return []
    _check_run_budget(record)
    return _start_rerun(record, now_ms)


def _check_run_budget(record: TaskRecord) -> None:
    if len(record.runs) >= MAX_RUNS:
        raise conflict(f"task {record.task_id} already has the maximum of {MAX_RUNS} runs")


def _start_rerun(record: TaskRecord, now_ms: int) -> list[Message]:
    record.awaiting_rerun = False
    record.retries_left = max(0, min(record.task.retries, MAX_RUNS - len(record.runs) - 1))
    run = _new_run(record, ReasonCreated.rerun, now_ms)
    return [message(record, Exchange.task_pending, run)]


def await_rerun(record: TaskRecord, now_ms: int) -> None:
    """Make a resolved task wait for its dependencies again, to rerun when they complete
    (rerunSubtree, protocol.md). Its runs are kept; no message until it is released."""
    _check_deadline(record, now_ms, "rerun")
    if record.active:
        raise conflict(f"task {record.task_id} is not resolved")
    _check_run_budget(record)
    record.awaiting_rerun = True


def change_priority(record: TaskRecord, new_priority: Priority, now_ms: int) -> Priority:
    """Set the priority; returns the old one. Resolved or past-deadline tasks answer 409."""
    _check_deadline(record, now_ms, "change the priority of")
    if not record.active:
        raise conflict(f"task {record.task_id} is resolved; its priority cannot change")
    old = record.task.priority
    record.task.priority = new_priority
    return old


def unclaim(record: TaskRecord, run_id: int) -> list[Message]:
    """Undo a claim whose response never reached the worker: the run is pending again.

    This is the one move outside TRANSITIONS. It is used only when the client of claimWork
    went away before the claim was answered (protocol.md, "claimWork"), so no worker ever
    held the run; retrying it instead would spend one of the task's retries for nothing.
    """
    run = record.last_run()
    if run is None or run.run_id != run_id or run.state is not RunState.running:
        return []
    run.state = RunState.pending
    run.worker_group = run.worker_id = run.taken_until = run.started = UNSET
    return [message(record, Exchange.task_pending, run)]
