"""The docker provider: each worker is a container on the local Docker engine.

The image is the launch config's `image`, else `--docker-image`, else the worker image built
locally from this installation (worker_image.py). The container runs `infrax worker`,
configured as the process provider configures its processes (`INFRAX_WORKER_*` variables, no
credentials), on the host's network by default so that it reaches a queue on 127.0.0.1. Its
tasks run inside it with the process engine unless the workerConfig says otherwise;
`dockerSocket: true` gives it the engine's socket for the docker engine. Containers are named
`infrax-wm-<workerId>` and labelled with the provider and pool, so they are found again after
a restart, and never confused with others'.

Every call of the `docker` SDK blocks, so each runs in a thread; the engine is reached lazily,
and an engine that does not answer makes launches fail (recorded on the pool, backed off)
rather than the provisioner.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import docker
import docker.errors
import requests
from docker.models.containers import Container

from clients.protocol.pool_config import DockerLaunchConfig

from .base import LaunchError, Liveness, WorkerCheck, WorkerLaunch, WorkerRef
from .process import worker_environment
from .worker_image import ensure_worker_image

__all__ = ["DockerProvider"]

T = TypeVar("T")
SOCKET = "/var/run/docker.sock"
TAIL_LINES = 40
_GONE = ("exited", "dead")


class DockerProvider:
    provider_type = "docker"
    starts_workers = True

    def __init__(self, provider_id: str, image: str | None = None) -> None:
        self.provider_id = provider_id
        self._image = image
        self._client: docker.DockerClient | None = None
        self._built: str | None = None
        self._stops: dict[str, int] = {}

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    async def _docker(self) -> docker.DockerClient:
        if self._client is None:
            try:
                client = await self._call(docker.from_env, timeout=300)
                await self._call(client.ping)
            except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
                raise LaunchError(f"no Docker engine answers: {error}") from None
            self._client = client
        return self._client

    async def _image_of(self, config: DockerLaunchConfig, client: docker.DockerClient) -> str:
        if isinstance(config.image, str):
            return config.image
        if self._image:
            return self._image
        if self._built is None:
            try:
                self._built = await self._call(ensure_worker_image, client)
            except (docker.errors.DockerException, OSError) as error:
                raise LaunchError(f"cannot build the worker image: {error}") from None
        return self._built

    async def start_worker(self, launch: WorkerLaunch) -> dict[str, Any]:
        config = launch.launch_config
        assert isinstance(config, DockerLaunchConfig)
        client = await self._docker()
        image = await self._image_of(config, client)
        name = f"infrax-wm-{launch.worker_id}"
        env = worker_environment(launch, "/work", config.env, base={})
        volumes = {SOCKET: {"bind": SOCKET, "mode": "rw"}} if config.docker_socket else {}
        labels = {
            "infrax.provider": self.provider_id,
            "infrax.worker-pool": launch.worker_pool_id,
            "infrax.worker-id": launch.worker_id,
        }
        try:
            container: Container = await self._call(
                client.containers.run,
                image,
                detach=True,
                name=name,
                environment=env,
                network_mode=config.network,
                labels=labels,
                volumes=volumes,
            )
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            explanation = getattr(error, "explanation", None) or str(error)
            raise LaunchError(f"Docker refused to start {image}: {explanation}") from None
        return {"containerId": container.id, "name": name, "image": image}

    async def check_worker(self, worker: WorkerRef) -> WorkerCheck:
        try:
            client = await self._docker()
            container = await self._call(client.containers.get, worker.provider_data["containerId"])
        except docker.errors.NotFound:
            return WorkerCheck(Liveness.gone)
        except (
            LaunchError,
            KeyError,
            docker.errors.DockerException,
            requests.exceptions.RequestException,
        ):
            return WorkerCheck(Liveness.unknown)
        if container.status not in _GONE:
            return WorkerCheck(Liveness.alive)
        code = container.attrs.get("State", {}).get("ExitCode")
        try:
            logs: bytes = await self._call(container.logs, tail=TAIL_LINES)
        except docker.errors.DockerException:
            logs = b""
        return WorkerCheck(Liveness.gone, code, logs.decode(errors="replace"))

    async def stop_worker(self, worker: WorkerRef) -> None:
        asked = self._stops.get(worker.worker_id, 0) + 1
        self._stops[worker.worker_id] = asked
        try:
            client = await self._docker()
            container = await self._call(client.containers.get, worker.provider_data["containerId"])
            await self._call(container.kill, signal="SIGTERM" if asked <= 2 else "SIGKILL")
        except (
            LaunchError,
            KeyError,
            docker.errors.DockerException,
            requests.exceptions.RequestException,
        ):
            return  # gone already, or the engine is away: the next pass asks again

    async def release_worker(self, worker: WorkerRef) -> None:
        self._stops.pop(worker.worker_id, None)
        try:
            client = await self._docker()
            container = await self._call(client.containers.get, worker.provider_data["containerId"])
            await self._call(container.remove, force=True)
        except (
            LaunchError,
            KeyError,
            docker.errors.DockerException,
            requests.exceptions.RequestException,
        ):
            return

    async def close(self) -> None:
        if self._client is not None:
            await self._call(self._client.close)
            self._client = None
