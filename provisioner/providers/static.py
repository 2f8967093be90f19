"""The static provider: machines you own register with a secret; nothing is started.

Workers are created by `createWorker` with a `staticSecret` and run `infrax worker` (or
Taskcluster's worker-runner with its static provider) wherever they are. The provisioner can
neither see nor stop such a machine: a removed static worker is quarantined in the queue, told
to terminate, and its credentials are not renewed (protocol.md, "Worker lifecycle").
"""

from __future__ import annotations

from typing import Any

from .base import LaunchError, Liveness, WorkerCheck, WorkerLaunch, WorkerRef

__all__ = ["StaticProvider"]


class StaticProvider:
    provider_type = "static"
    starts_workers = False

    def __init__(self, provider_id: str = "static") -> None:
        self.provider_id = provider_id

    async def start_worker(self, launch: WorkerLaunch) -> dict[str, Any]:
        raise LaunchError("static workers are created with createWorker, not launched")

    async def check_worker(self, worker: WorkerRef) -> WorkerCheck:
        return WorkerCheck(Liveness.unknown)

    async def stop_worker(self, worker: WorkerRef) -> None:
        return None

    async def release_worker(self, worker: WorkerRef) -> None:
        return None

    async def close(self) -> None:
        return None
