"""The typed infrax client: async, one method per endpoint of the table, with a sync wrapper.

::

    from clients.client import Queue

    async with Queue.from_env() as queue:      # TASKCLUSTER_ROOT_URL, _CLIENT_ID, ...
        await queue.create_task(task_id, definition)

``SERVICE_CLIENTS`` maps each service of the endpoint table to its client class; a new
service (hooks, worker-manager, ...) adds its class there, and a test checks that every
endpoint of the table has its method.
"""

from __future__ import annotations

from .auth import Auth
from .errors import (
    ApiCallError,
    AuthenticationFailed,
    ClientError,
    ConfigurationError,
    InputError,
    InputTooLarge,
    InsufficientScopes,
    MethodNotAllowed,
    RequestConflict,
    ResourceExpired,
    ResourceNotFound,
    ResponseError,
    ServerError,
    TransportError,
)
from .events import Event, EventStream, EventStreamClosed, EventStreamError
from .livelog import LogStream, RelayConnection, ShellSession
from .objects import Object
from .options import Options, credentials_from_env, credentials_from_file, credentials_of
from .queue import Queue
from .queue_artifacts import ArtifactError
from .retry import RetryPolicy
from .service import ServiceClient
from .sync import SyncClient
from .transfer import Downloaded
from .waits import wait_for_resolution
from .worker_manager import WorkerManager

__all__ = [
    "SERVICE_CLIENTS",
    "ApiCallError",
    "ArtifactError",
    "Auth",
    "AuthenticationFailed",
    "ClientError",
    "ConfigurationError",
    "Downloaded",
    "Event",
    "EventStream",
    "EventStreamClosed",
    "EventStreamError",
    "InputError",
    "InputTooLarge",
    "InsufficientScopes",
    "LogStream",
    "MethodNotAllowed",
    "Object",
    "Options",
    "Queue",
    "RelayConnection",
    "RequestConflict",
    "ResourceExpired",
    "ResourceNotFound",
    "ResponseError",
    "RetryPolicy",
    "ServerError",
    "ServiceClient",
    "ShellSession",
    "SyncClient",
    "TransportError",
    "WorkerManager",
    "credentials_from_env",
    "credentials_from_file",
    "credentials_of",
    "wait_for_resolution",
]

SERVICE_CLIENTS: dict[str, type[ServiceClient]] = {
    Queue.service: Queue,
    Object.service: Object,
    Auth.service: Auth,
    WorkerManager.service: WorkerManager,
}
