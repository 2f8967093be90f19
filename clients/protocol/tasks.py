"""Wire types for tasks, runs, claims and task groups (protocol.md, "Tasks").

Requests forbid unknown fields where Taskcluster's schemas do; responses tolerate them so a
newer server can add fields. Field names are camelCase on the wire.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from .ids import IDENTIFIER_PATTERN, PROJECT_ID_PATTERN, SLUGID_PATTERN, exact
from .states import Priority, ReasonCreated, ReasonResolved, RunState, TaskState

__all__ = [
    "CancelTaskGroupResponse",
    "ChangePriorityRequest",
    "ChangeTaskGroupPriorityResponse",
    "ClaimWorkRequest",
    "ClaimWorkResponse",
    "CreateTaskRequest",
    "ListDependentTasksResponse",
    "ListTaskGroupResponse",
    "Metadata",
    "ReportExceptionRequest",
    "ReportableReason",
    "RerunSubtreeResponse",
    "RunInfo",
    "StatusWithId",
    "Task",
    "TaskAndStatus",
    "TaskClaim",
    "TaskCredentials",
    "TaskGroup",
    "TaskIdsRequest",
    "TaskReclaimResponse",
    "TaskStatus",
    "TaskStatusResponse",
    "TaskStatusesResponse",
    "TaskWithId",
    "TasksResponse",
]

Slug = Annotated[str, Meta(pattern=exact(SLUGID_PATTERN))]
Identifier = Annotated[str, Meta(pattern=exact(IDENTIFIER_PATTERN), min_length=1, max_length=38)]
ProjectId = Annotated[str, Meta(pattern=exact(PROJECT_ID_PATTERN), min_length=1, max_length=500)]
Printable = Annotated[str, Meta(pattern=r"^[\x20-\x7e]*\Z")]
Requires = Literal["all-completed", "all-resolved"]


class _Request(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class _Response(Struct, kw_only=True, rename="camel"):
    pass


class Metadata(Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, Meta(max_length=255)]
    description: Annotated[str, Meta(max_length=32768)]
    owner: Annotated[str, Meta(max_length=255)]
    source: Annotated[str, Meta(max_length=4096, pattern=r"^(https?://|ssh://|git@)")]


class CreateTaskRequest(_Request, kw_only=True):
    provisioner_id: Annotated[str, Meta(max_length=38)] | UnsetType = UNSET
    worker_type: Annotated[str, Meta(max_length=38)] | UnsetType = UNSET
    task_queue_id: Annotated[str, Meta(max_length=77)] | UnsetType = UNSET
    scheduler_id: Identifier = "-"
    project_id: ProjectId = "none"
    task_group_id: Slug | UnsetType = UNSET
    dependencies: Annotated[list[Slug], Meta(max_length=10000)] = []
    requires: Requires = "all-completed"
    routes: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=249)]], Meta(max_length=64)
    ] = []
    priority: Priority = Priority.lowest
    retries: Annotated[int, Meta(ge=0, le=49)] = 5
    created: str
    deadline: str
    expires: str | UnsetType = UNSET
    scopes: list[Printable] = []
    payload: dict[str, Any]
    metadata: Metadata
    tags: dict[str, Annotated[str, Meta(max_length=4096)]] = {}
    extra: dict[str, Any] = {}


class Task(Struct, kw_only=True, rename="camel"):
    """A task definition as stored and served: every default filled in, times normalised."""

    provisioner_id: str
    worker_type: str
    task_queue_id: str
    scheduler_id: str
    project_id: str
    task_group_id: str
    dependencies: list[str]
    requires: Requires
    routes: list[str]
    priority: Priority
    retries: int
    created: str
    deadline: str
    expires: str
    scopes: list[str]
    payload: dict[str, Any]
    metadata: Metadata
    tags: dict[str, str]
    extra: dict[str, Any]


class RunInfo(_Response, kw_only=True):
    run_id: int
    state: RunState
    reason_created: ReasonCreated
    reason_resolved: ReasonResolved | UnsetType = UNSET
    worker_group: str | UnsetType = UNSET
    worker_id: str | UnsetType = UNSET
    taken_until: str | UnsetType = UNSET
    scheduled: str
    started: str | UnsetType = UNSET
    resolved: str | UnsetType = UNSET


class TaskStatus(_Response, kw_only=True):
    task_id: str
    provisioner_id: str
    worker_type: str
    task_queue_id: str
    scheduler_id: str
    project_id: str
    task_group_id: str
    priority: Priority
    deadline: str
    expires: str
    retries_left: int
    state: TaskState
    runs: list[RunInfo]


class TaskStatusResponse(_Response, kw_only=True):
    status: TaskStatus


class TaskIdsRequest(_Request, kw_only=True):
    task_ids: Annotated[list[Slug], Meta(max_length=1000)]


class TaskWithId(_Response, kw_only=True):
    task_id: str
    task: Task


class StatusWithId(_Response, kw_only=True):
    task_id: str
    status: TaskStatus


class TasksResponse(_Response, kw_only=True):
    tasks: list[TaskWithId]
    continuation_token: str | UnsetType = UNSET


class TaskStatusesResponse(_Response, kw_only=True):
    statuses: list[StatusWithId]
    continuation_token: str | UnsetType = UNSET


class ChangePriorityRequest(_Request, kw_only=True):
    new_priority: Priority


class TaskAndStatus(_Response, kw_only=True):
    task: Task
    status: TaskStatus


class ListDependentTasksResponse(_Response, kw_only=True):
    task_id: str
    tasks: list[TaskAndStatus]
    continuation_token: str | UnsetType = UNSET


class TaskGroup(_Response, kw_only=True):
    task_group_id: str
    scheduler_id: str
    expires: str
    sealed: str | UnsetType = UNSET


class ListTaskGroupResponse(_Response, kw_only=True):
    task_group_id: str
    scheduler_id: str
    expires: str
    sealed: str | UnsetType = UNSET
    tasks: list[TaskAndStatus]
    continuation_token: str | UnsetType = UNSET


class CancelTaskGroupResponse(_Response, kw_only=True):
    task_group_id: str
    task_group_size: int
    cancelled_count: int
    task_ids: list[str]


class ChangeTaskGroupPriorityResponse(_Response, kw_only=True):
    task_group_id: str
    scheduler_id: str
    new_priority: Priority
    tasks_affected: int
    task_ids: list[str]


class ClaimWorkRequest(_Request, kw_only=True):
    worker_group: Identifier
    worker_id: Identifier
    tasks: Annotated[int, Meta(ge=1, le=32)] = 1


class TaskCredentials(_Response, kw_only=True):
    client_id: str
    access_token: str
    certificate: str


class TaskClaim(_Response, kw_only=True):
    status: TaskStatus
    run_id: int
    worker_group: str
    worker_id: str
    taken_until: str
    task: Task
    credentials: TaskCredentials


class ClaimWorkResponse(_Response, kw_only=True):
    tasks: list[TaskClaim]


class TaskReclaimResponse(_Response, kw_only=True):
    status: TaskStatus
    run_id: int
    worker_group: str
    worker_id: str
    taken_until: str
    credentials: TaskCredentials


ReportableReason = Literal[
    "worker-shutdown",
    "malformed-payload",
    "resource-unavailable",
    "internal-error",
    "intermittent-task",
]


class ReportExceptionRequest(_Request, kw_only=True):
    reason: ReportableReason


class RerunSubtreeResponse(_Response, kw_only=True):
    """The rerun task's status and the dependents that now wait to rerun (an extension)."""

    status: TaskStatus
    waiting: list[str]
