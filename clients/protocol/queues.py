"""Wire types for task queues, workers, provisioners, counts and health (protocol.md)."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "CountsBatchRequest",
    "CountsBatchResponse",
    "DeclareWorkerRequest",
    "DeclaredHost",
    "HeartbeatResponse",
    "LatestTask",
    "ListClaimedTasksResponse",
    "ListPendingTasksResponse",
    "ListProvisionersResponse",
    "ListTaskQueuesResponse",
    "ListWorkerTypesResponse",
    "ListWorkersResponse",
    "PendingTasksResponse",
    "PingResponse",
    "Provisioner",
    "QuarantineDetail",
    "QuarantineWorkerRequest",
    "TaskQueue",
    "TaskQueueCounts",
    "VersionResponse",
    "WorkerHost",
    "WorkerListItem",
    "WorkerResponse",
    "WorkerType",
]


class _Request(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class _Response(Struct, kw_only=True, rename="camel"):
    pass


class PendingTasksResponse(_Response, kw_only=True):
    provisioner_id: str
    worker_type: str
    task_queue_id: str
    pending_tasks: int


class TaskQueueCounts(_Response, kw_only=True):
    provisioner_id: str
    worker_type: str
    task_queue_id: str
    pending_tasks: int
    claimed_tasks: int


class CountsBatchRequest(_Request, kw_only=True):
    task_queue_ids: Annotated[list[Annotated[str, Meta(max_length=77)]], Meta(max_length=1000)]


class CountsBatchResponse(_Response, kw_only=True):
    task_queue_counts: list[TaskQueueCounts]


class PendingTaskItem(_Response, kw_only=True):
    task_id: str
    run_id: int
    task: Any
    inserted: str


class ListPendingTasksResponse(_Response, kw_only=True):
    tasks: list[PendingTaskItem]
    continuation_token: str | UnsetType = UNSET


class ClaimedTaskItem(_Response, kw_only=True):
    task_id: str
    run_id: int
    worker_group: str
    worker_id: str
    claimed: str
    task: Any


class ListClaimedTasksResponse(_Response, kw_only=True):
    tasks: list[ClaimedTaskItem]
    continuation_token: str | UnsetType = UNSET


class TaskQueue(_Response, kw_only=True):
    task_queue_id: str
    stability: str
    description: str
    expires: str
    last_date_active: str


class ListTaskQueuesResponse(_Response, kw_only=True):
    task_queues: list[TaskQueue]
    continuation_token: str | UnsetType = UNSET


class Provisioner(_Response, kw_only=True):
    provisioner_id: str
    stability: str
    description: str
    expires: str
    last_date_active: str
    actions: list[Any] = []


class ListProvisionersResponse(_Response, kw_only=True):
    provisioners: list[Provisioner]
    continuation_token: str | UnsetType = UNSET


class WorkerType(_Response, kw_only=True):
    provisioner_id: str
    worker_type: str
    stability: str
    description: str
    expires: str
    last_date_active: str
    actions: list[Any] = []


class ListWorkerTypesResponse(_Response, kw_only=True):
    worker_types: list[WorkerType]
    continuation_token: str | UnsetType = UNSET


class LatestTask(_Response, kw_only=True):
    task_id: str
    run_id: int


class WorkerListItem(_Response, kw_only=True):
    worker_group: str
    worker_id: str
    first_claim: str
    last_date_active: str | UnsetType = UNSET
    latest_task: LatestTask | UnsetType = UNSET
    quarantine_until: str | UnsetType = UNSET


class ListWorkersResponse(_Response, kw_only=True):
    workers: list[WorkerListItem]
    continuation_token: str | UnsetType = UNSET


class QuarantineDetail(_Response, kw_only=True):
    client_id: str
    quarantine_until: str
    updated_at: str
    quarantine_info: str = ""


_Count = Annotated[int, Meta(ge=0)]
_Label = Annotated[str, Meta(max_length=255)]


class DeclaredHost(_Request, kw_only=True):
    """The host a worker runs on, as it declares it (an infrax extension, protocol.md
    "declareWorker")."""

    hostname: _Label
    architecture: _Label
    system: _Label
    cpu_count: _Count
    memory_bytes: _Count
    disk_total_bytes: _Count
    disk_free_bytes: _Count


class WorkerHost(_Response, kw_only=True):
    hostname: str
    architecture: str
    system: str
    cpu_count: int
    memory_bytes: int
    disk_total_bytes: int
    disk_free_bytes: int


class WorkerResponse(_Response, kw_only=True):
    provisioner_id: str
    worker_type: str
    task_queue_id: str
    worker_group: str
    worker_id: str
    expires: str
    first_claim: str
    last_date_active: str | UnsetType = UNSET
    recent_tasks: list[LatestTask] = []
    quarantine_until: str | UnsetType = UNSET
    quarantine_details: list[QuarantineDetail] | UnsetType = UNSET
    actions: list[Any] = []
    host: WorkerHost | UnsetType = UNSET


class QuarantineWorkerRequest(_Request, kw_only=True):
    quarantine_until: str
    quarantine_info: Annotated[str, Meta(max_length=4000)] = ""


class DeclareWorkerRequest(_Request, kw_only=True):
    expires: str | UnsetType = UNSET
    host: DeclaredHost | UnsetType = UNSET


class PingResponse(_Response, kw_only=True):
    alive: bool
    uptime: float


class HeartbeatResponse(_Response, kw_only=True):
    pass


class VersionResponse(_Response, kw_only=True):
    source: str
    version: str
    commit: str = ""
    build: str = ""
