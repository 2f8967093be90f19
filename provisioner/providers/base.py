"""The interface every provider implements (docs/providers.md explains how to write one).

A provider turns "start a worker of this launch config" into a running machine, process or
container, and can tell whether one still exists and make it go. It knows nothing of pools,
scaling or the queue: the provisioner loop decides, the provider only acts. Every method may
block on a slow backend, so each is async; each is idempotent where the loop may repeat it.

The worker it starts must be handed, in whatever way the backend offers (environment, user
data, a secret store), the facts in `WorkerLaunch`: where the queue and the worker-manager API
are, who the worker is, and the one-time secret it registers with. The provider never sees
credentials: the worker gets them by registering.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from clients.protocol.pool_config import LaunchConfig

__all__ = ["LaunchError", "Liveness", "Provider", "WorkerCheck", "WorkerLaunch", "WorkerRef"]


class LaunchError(Exception):
    """The backend refused to start the worker (bad image, bad command, no capacity...).

    The message is recorded on the pool as an error; it must not contain secrets."""


@dataclass(frozen=True)
class WorkerLaunch:
    """Everything a started worker needs to find the queue and register."""

    worker_pool_id: str
    worker_group: str
    worker_id: str
    capacity: int
    launch_config_id: str
    launch_config: LaunchConfig  # the provider's own type (ProcessLaunchConfig...)
    queue_root_url: str
    provisioner_url: str  # the worker-manager API's rootUrl
    provider_id: str
    registration_secret: str  # one-time: consumed by the worker's registerWorker


@dataclass(frozen=True)
class WorkerRef:
    """A worker as the provider knows it: its ids and what `start_worker` returned."""

    worker_pool_id: str
    worker_group: str
    worker_id: str
    provider_data: dict[str, Any]


class Liveness(StrEnum):
    alive = "alive"
    gone = "gone"
    unknown = "unknown"  # the provider cannot tell (static machines)


@dataclass(frozen=True)
class WorkerCheck:
    liveness: Liveness
    exit_code: int | None = None
    output_tail: str = ""  # the end of what the worker printed, for error reports


class Provider(Protocol):
    provider_id: str
    provider_type: str  # the key of its pools' config schema in pool_config.CONFIG_TYPES
    starts_workers: bool  # False for static: workers are created by createWorker

    async def start_worker(self, launch: WorkerLaunch) -> dict[str, Any]:
        """Start the worker; the returned provider data (ids, no secrets) is stored with it.
        Raises LaunchError when the backend refuses."""
        ...

    async def check_worker(self, worker: WorkerRef) -> WorkerCheck:
        """Whether the worker's machine, process or container still exists."""
        ...

    async def stop_worker(self, worker: WorkerRef) -> None:
        """Ask the worker to go, without waiting: a second call hurries it (no grace). Safe to
        call for a worker already gone."""
        ...

    async def release_worker(self, worker: WorkerRef) -> None:
        """Free what is left of a worker that is gone (a container, a directory)."""
        ...

    async def close(self) -> None: ...
