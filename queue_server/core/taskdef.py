"""From a createTask request to the stored task definition (protocol.md, "createTask").

Fills in defaults, reconciles taskQueueId with provisionerId/workerType, normalises times to
the millisecond `Z` format (so an idempotent repeat compares equal) and checks the time rules.
"""

from __future__ import annotations

from msgspec import UNSET

from clients.protocol.errors import input_error
from clients.protocol.ids import join_task_queue_id, split_task_queue_id
from clients.protocol.states import PRIORITIES, Priority
from clients.protocol.tasks import CreateTaskRequest, Task
from clients.protocol.times import format_ms, parse_time

__all__ = ["SKEW_MS", "TaskTimes", "creator_priorities", "normalize_task"]

SKEW_MS = 15 * 60 * 1000
YEAR_MS = 365 * 24 * 3600 * 1000


class TaskTimes:
    """The three times of a task in milliseconds since the epoch."""

    __slots__ = ("created", "deadline", "expires")

    def __init__(self, created: int, deadline: int, expires: int) -> None:
        self.created = created
        self.deadline = deadline
        self.expires = expires


def _time(field: str, value: str) -> int:
    try:
        return parse_time(value)
    except ValueError:
        raise input_error(
            f"`{field}` is not a valid date-time: {value!r}", path=f"$.{field}"
        ) from None


def _task_queue(req: CreateTaskRequest) -> tuple[str, str]:
    given = req.task_queue_id if req.task_queue_id is not UNSET else None
    parts = split_task_queue_id(given) if given is not None else None
    if given is not None and parts is None:
        raise input_error(f"`taskQueueId` {given!r} is not of the form `provisionerId/workerType`")
    prov = req.provisioner_id if req.provisioner_id is not UNSET else None
    wtype = req.worker_type if req.worker_type is not UNSET else None
    if parts is not None:
        if (prov is not None and prov != parts[0]) or (wtype is not None and wtype != parts[1]):
            raise input_error(
                "`taskQueueId` must equal `provisionerId/workerType` when all are given"
            )
        return parts
    if prov is None or wtype is None:
        raise input_error(
            "at least a provisionerId and a workerType or a taskQueueId must be provided"
        )
    if split_task_queue_id(f"{prov}/{wtype}") is None:
        raise input_error(f"`provisionerId` {prov!r} or `workerType` {wtype!r} is not valid")
    return prov, wtype


def normalize_task(
    task_id: str, req: CreateTaskRequest, *, now_ms: int, max_deadline_ms: int
) -> tuple[Task, TaskTimes]:
    """The stored definition, or an InputError naming the field at fault."""
    prov, wtype = _task_queue(req)
    created = _time("created", req.created)
    deadline = _time("deadline", req.deadline)
    expires = deadline + YEAR_MS if req.expires is UNSET else _time("expires", req.expires)
    if abs(created - now_ms) > SKEW_MS:
        raise input_error(
            "`created` must be within 15 minutes of the server's time", path="$.created"
        )
    if deadline < created:
        raise input_error("`deadline` must not be before `created`", path="$.deadline")
    if deadline <= now_ms:
        raise input_error("`deadline` is in the past", path="$.deadline")
    if deadline > now_ms + max_deadline_ms + SKEW_MS:
        days = max_deadline_ms // 86_400_000
        raise input_error(f"`deadline` is more than {days} days from now", path="$.deadline")
    if expires < deadline:
        raise input_error("`expires` must not be before `deadline`", path="$.expires")
    for index, scope in enumerate(req.scopes):
        if scope.endswith("**"):
            raise input_error(f"scope {scope!r} must not end in `**`", path=f"$.scopes[{index}]")
    if len(set(req.dependencies)) != len(req.dependencies):
        raise input_error("`dependencies` must be unique", path="$.dependencies")
    if len(set(req.routes)) != len(req.routes):
        raise input_error("`routes` must be unique", path="$.routes")
    task = Task(
        provisioner_id=prov,
        worker_type=wtype,
        task_queue_id=join_task_queue_id(prov, wtype),
        scheduler_id=req.scheduler_id,
        project_id=req.project_id,
        task_group_id=task_id if req.task_group_id is UNSET else req.task_group_id,
        dependencies=list(req.dependencies),
        requires=req.requires,
        routes=list(req.routes),
        priority=req.priority,
        retries=req.retries,
        created=format_ms(created),
        deadline=format_ms(deadline),
        expires=format_ms(expires),
        scopes=list(req.scopes),
        payload=req.payload,
        metadata=req.metadata,
        tags=dict(req.tags),
        extra=dict(req.extra),
    )
    return task, TaskTimes(created, deadline, expires)


def creator_priorities(priority: Priority) -> list[str]:
    """The priorities whose create-task scope allows creating at `priority`: it and higher."""
    return list(_CREATOR_PRIORITIES[priority])


_CREATOR_PRIORITIES = {
    priority: tuple(p.value for p in PRIORITIES[: PRIORITIES.index(priority) + 1])
    for priority in PRIORITIES
}
