"""Queue exchange messages and their routing keys (protocol.md, "Events").

Every state change publishes one of these. Task exchanges route on ten words,
`primary.<taskId>.<runId>.<workerGroup>.<workerId>.<provisionerId>.<workerType>.<schedulerId>.<taskGroupId>._`,
with `_` for a missing word, and are CC'd to `route.<r>` for each of the task's routes.
"""

from __future__ import annotations

from enum import StrEnum

from msgspec import UNSET, Struct, UnsetType

from .states import Priority
from .tasks import TaskStatus

__all__ = [
    "EXCHANGE_PREFIX",
    "ArtifactCreated",
    "Exchange",
    "Message",
    "TaskGroupChanged",
    "TaskGroupPriorityChanged",
    "TaskMessage",
    "TaskPriorityChanged",
    "TaskTags",
    "group_routing_key",
    "task_routing_key",
]

EXCHANGE_PREFIX = "exchange/taskcluster-queue/v1/"


class Exchange(StrEnum):
    task_defined = "task-defined"
    task_pending = "task-pending"
    task_running = "task-running"
    artifact_created = "artifact-created"
    task_completed = "task-completed"
    task_failed = "task-failed"
    task_exception = "task-exception"
    task_group_resolved = "task-group-resolved"
    task_group_sealed = "task-group-sealed"
    task_priority_changed = "task-priority-changed"
    task_group_priority_changed = "task-group-priority-changed"


class TaskTags(Struct, kw_only=True):
    tags: dict[str, str]


class TaskMessage(Struct, kw_only=True, rename="camel"):
    """Body of task-defined, -pending, -running, -completed, -failed and -exception."""

    version: int = 1
    status: TaskStatus
    run_id: int | UnsetType = UNSET
    worker_group: str | UnsetType = UNSET
    worker_id: str | UnsetType = UNSET
    taken_until: str | UnsetType = UNSET
    task: TaskTags | UnsetType = UNSET


class ArtifactInfo(Struct, kw_only=True, rename="camel"):
    storage_type: str
    name: str
    expires: str
    content_type: str


class ArtifactCreated(Struct, kw_only=True, rename="camel"):
    version: int = 1
    status: TaskStatus
    run_id: int
    worker_group: str
    worker_id: str
    artifact: ArtifactInfo


class TaskGroupChanged(Struct, kw_only=True, rename="camel"):
    """Body of task-group-resolved and task-group-sealed."""

    version: int = 1
    task_group_id: str
    scheduler_id: str
    expires: str
    sealed: str | UnsetType = UNSET


class TaskPriorityChanged(Struct, kw_only=True, rename="camel"):
    version: int = 1
    status: TaskStatus
    old_priority: Priority
    new_priority: Priority


class TaskGroupPriorityChanged(Struct, kw_only=True, rename="camel"):
    version: int = 1
    task_group_id: str
    scheduler_id: str
    new_priority: Priority
    tasks_affected: int


Body = (
    TaskMessage
    | ArtifactCreated
    | TaskGroupChanged
    | TaskPriorityChanged
    | TaskGroupPriorityChanged
)


class Message(Struct, kw_only=True):
    """One published message: its exchange, primary routing key, CC keys and body."""

    exchange: Exchange
    routing_key: str
    cc: list[str]
    body: Body

    @property
    def exchange_name(self) -> str:
        return EXCHANGE_PREFIX + self.exchange.value


def _word(value: object) -> str:
    return "_" if value is None or value is UNSET or value == "" else str(value)


def task_routing_key(
    status: TaskStatus,
    run_id: int | None = None,
    worker_group: str | None = None,
    worker_id: str | None = None,
) -> str:
    words = (
        "primary",
        status.task_id,
        _word(run_id),
        _word(worker_group),
        _word(worker_id),
        status.provisioner_id,
        status.worker_type,
        status.scheduler_id,
        status.task_group_id,
        "_",
    )
    return ".".join(words)


def group_routing_key(task_group_id: str, scheduler_id: str) -> str:
    return f"primary.{task_group_id}.{scheduler_id}._"
