"""Wire types of the Worker-Manager v1 API served by the provisioner (protocol.md,
"Worker-manager").

Shapes follow Taskcluster's worker-pool-full, create/update-worker-pool-request, worker-full,
register/reregister-worker and worker-pool-error schemas. Requests forbid unknown fields;
responses tolerate them. A pool's `config` is checked against its provider's schema
(pool_config.py); a worker's identity proof by its provider.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "PROVISIONER_CLIENT_SCOPES",
    "CreateWorkerPoolRequest",
    "CreateWorkerRequest",
    "ListProvidersResponse",
    "ListWorkerPoolErrorsResponse",
    "ListWorkerPoolsResponse",
    "ListWorkersResponse",
    "ProviderInfo",
    "ProviderSummary",
    "RegisterWorkerRequest",
    "RegisterWorkerResponse",
    "RemoveWorkerResponse",
    "ReregisterWorkerRequest",
    "ReregisterWorkerResponse",
    "ShouldWorkerTerminateResponse",
    "UpdateWorkerPoolRequest",
    "Worker",
    "WorkerCredentials",
    "WorkerPool",
    "WorkerPoolError",
    "WorkerState",
]

ID_PATTERN = r"^[a-zA-Z0-9-_]{1,38}$"
SECRET_PATTERN = r"^[a-zA-Z0-9_-]{44}$"

Identifier = Annotated[str, Meta(pattern=ID_PATTERN)]
Secret = Annotated[str, Meta(pattern=SECRET_PATTERN)]


class WorkerState(StrEnum):
    requested = "requested"
    running = "running"
    stopping = "stopping"
    stopped = "stopped"


class _Request(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class _Response(Struct, kw_only=True, rename="camel"):
    pass


class CreateWorkerPoolRequest(_Request, kw_only=True):
    provider_id: Identifier
    description: Annotated[str, Meta(max_length=10240)]
    config: dict[str, Any]
    owner: Annotated[str, Meta(max_length=255)]
    email_on_error: bool


class UpdateWorkerPoolRequest(CreateWorkerPoolRequest, kw_only=True):
    """As the create request; a pool fetched with workerPool can be edited and sent back."""

    worker_pool_id: str | UnsetType = UNSET  # must equal the URL's
    created: str | UnsetType = UNSET  # ignored, as are the live counts below
    last_modified: str | UnsetType = UNSET
    current_capacity: int | UnsetType = UNSET
    requested_count: int | UnsetType = UNSET
    running_count: int | UnsetType = UNSET
    stopping_count: int | UnsetType = UNSET
    stopped_count: int | UnsetType = UNSET
    requested_capacity: int | UnsetType = UNSET
    running_capacity: int | UnsetType = UNSET
    stopping_capacity: int | UnsetType = UNSET
    stopped_capacity: int | UnsetType = UNSET


class WorkerPool(_Response, kw_only=True):
    worker_pool_id: str
    provider_id: str
    description: str
    owner: str
    email_on_error: bool
    config: dict[str, Any]
    created: str
    last_modified: str
    current_capacity: int = 0
    requested_count: int = 0
    running_count: int = 0
    stopping_count: int = 0
    stopped_count: int = 0
    requested_capacity: int = 0
    running_capacity: int = 0
    stopping_capacity: int = 0
    stopped_capacity: int = 0


class ListWorkerPoolsResponse(_Response, kw_only=True):
    worker_pools: list[WorkerPool]
    continuation_token: str | UnsetType = UNSET


class WorkerPoolError(_Response, kw_only=True):
    worker_pool_id: str
    error_id: str
    reported: str
    kind: str
    title: str
    description: str
    extra: dict[str, Any]
    launch_config_id: str | UnsetType = UNSET


class ListWorkerPoolErrorsResponse(_Response, kw_only=True):
    worker_pool_errors: list[WorkerPoolError]
    continuation_token: str | UnsetType = UNSET


class Worker(_Response, kw_only=True):
    worker_pool_id: str
    worker_group: str
    worker_id: str
    provider_id: str
    created: str
    expires: str
    state: WorkerState
    capacity: int
    last_modified: str
    last_checked: str
    launch_config_id: str | UnsetType = UNSET


class ListWorkersResponse(_Response, kw_only=True):
    workers: list[Worker]
    continuation_token: str | UnsetType = UNSET


class ProviderInfo(_Request, kw_only=True):
    static_secret: Secret


class CreateWorkerRequest(_Request, kw_only=True):
    """createWorker, for providers that do not start workers themselves (static)."""

    expires: str
    capacity: Annotated[int, Meta(ge=1)] = 1
    provider_info: ProviderInfo | UnsetType = UNSET


class RemoveWorkerResponse(_Response, kw_only=True):
    """removeWorker answers `{}`."""


class ShouldWorkerTerminateResponse(_Response, kw_only=True):
    terminate: bool
    reason: str


class ProviderSummary(_Response, kw_only=True):
    provider_id: str
    provider_type: str


class ListProvidersResponse(_Response, kw_only=True):
    providers: list[ProviderSummary]
    continuation_token: str | UnsetType = UNSET


class RegisterWorkerRequest(_Request, kw_only=True):
    worker_pool_id: str
    provider_id: Identifier
    worker_group: Identifier
    worker_id: Identifier
    # Its shape is the provider's: `{staticSecret}` for static, process and docker workers.
    worker_identity_proof: dict[str, Any]
    system_boot_time: str | UnsetType = UNSET


class WorkerCredentials(_Response, kw_only=True):
    client_id: str
    access_token: str
    certificate: str | UnsetType = UNSET


class RegisterWorkerResponse(_Response, kw_only=True):
    expires: str
    credentials: WorkerCredentials
    worker_config: dict[str, Any]
    secret: str  # for reregisterWorker; a new one with every (re)registration


class ReregisterWorkerRequest(_Request, kw_only=True):
    worker_pool_id: str
    worker_group: Identifier
    worker_id: Identifier
    secret: Secret


class ReregisterWorkerResponse(_Response, kw_only=True):
    expires: str
    credentials: WorkerCredentials
    secret: str


# What the provisioner's own client must hold (protocol.md, "Worker registration"): issuing
# each worker's named credentials, and the queue calls of removing a worker.
PROVISIONER_CLIENT_SCOPES: tuple[str, ...] = (
    "auth:create-client:worker/*",
    "assume:worker-type:*",
    "assume:worker-pool:*",
    "assume:worker-id:*",
    "queue:worker-id:*",
    "queue:claim-work:*",
    "queue:declare-worker:*",
    "secrets:get:worker-type:*",
    "secrets:get:worker-pool:*",
    "worker-manager:remove-worker:*",
    "worker-manager:reregister-worker:*",
    "worker-manager:should-worker-terminate:*",
    "queue:quarantine-worker:*",
    "queue:resolve-task:*",
    "queue:pending-count:*",
    "queue:claimed-count:*",
    "queue:claimed-list:*",
    "queue:list-workers:*",
)
