"""The Docker engine: one unprivileged container per run, through the Docker Engine API.

Every call of the `docker` SDK blocks, so each runs on this engine's own thread pool (sized so
that the long calls of every running task, streaming its log and its exit, never starve the
short ones), and every exception it raises is translated here into the worker's errors
(errors.py): an image that does not exist is malformed-payload, an engine that does not answer
is resource-unavailable. Containers are named and labelled after their run, so one worker
cleans up what a previous life of it left behind (a kill -9), and never touches others'.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Literal, TypeVar

import docker
import docker.errors
import requests
from docker.models.containers import Container

from ..errors import MalformedPayload, ResourceUnavailable, TaskError
from ..payload import ArtifactRequest
from ..tasklog import TaskLog
from .base import FetchedFile, Launch, Usage
from .docker_archive import extract_artifact
from .docker_images import ensure_image, save_container
from .docker_shell import DockerTerminal, hold_settings, open_terminal, task_argv

__all__ = ["WORKER_LABEL", "DockerEngine", "DockerExecution"]

WORKER_LABEL = "infrax.worker"
_T = TypeVar("_T")
# What a container cannot start with is the task's fault, as `docker run` says with 127.
_NOT_STARTABLE = ("executable file not found", "no such file or directory", "permission denied")
COMMAND_NOT_FOUND = 127


def translate(error: Exception, doing: str) -> TaskError:
    """The worker's error for a failure of the Docker SDK while `doing` something."""
    if isinstance(error, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return ResourceUnavailable(f"the Docker engine did not answer while {doing}")
    if isinstance(error, docker.errors.APIError):
        explanation = error.explanation or str(error)
        if error.status_code is not None and 400 <= error.status_code < 500:
            return MalformedPayload(f"Docker refused {doing}: {explanation}")
        return ResourceUnavailable(f"Docker failed {doing}: {explanation}")
    return ResourceUnavailable(f"Docker failed {doing}: {error}")


class DockerEngine:
    kind: Literal["docker"] = "docker"

    def __init__(self, client: docker.DockerClient, capacity: int, worker: str) -> None:
        self.client = client
        self.worker = worker  # workerGroup/workerId, the value of WORKER_LABEL
        self._pool = ThreadPoolExecutor(4 + 4 * capacity, thread_name_prefix="docker")

    @classmethod
    def connect(cls, capacity: int, worker: str) -> DockerEngine:
        """A client of the local engine (DOCKER_HOST or the default socket), checked to answer."""
        try:
            client = docker.from_env(timeout=300)
            client.ping()
        except docker.errors.DockerException as error:
            raise ResourceUnavailable(f"no Docker engine answers: {error}") from None
        return cls(client, capacity, worker)

    async def call(self, doing: str, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """`function(*args, **kwargs)` on the pool; its failures translated."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, functools.partial(function, *args, **kwargs)
            )
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise translate(error, doing) from error

    async def remove_leftovers(self) -> int:
        """Remove the containers an earlier life of this worker left behind; how many."""
        found = await self.call(
            "listing leftover containers",
            self.client.containers.list,
            all=True,
            filters={"label": f"{WORKER_LABEL}={self.worker}"},
        )
        for container in found:
            await self.call("removing a leftover container", container.remove, force=True)
        return len(found)

    async def prepare(self, launch: Launch, log: TaskLog) -> None:
        assert launch.job.image is not None
        await ensure_image(self, launch.job.image, log)

    @asynccontextmanager
    async def execute(self, launch: Launch, log: TaskLog) -> AsyncIterator[DockerExecution]:
        for volume in launch.volumes:
            await self.call("creating a cache volume", self._volume, volume)
        container = await self.call("creating the container", self._create, launch)
        execution = DockerExecution(self, container, log, launch)
        try:
            await execution.start()
            yield execution
        finally:
            await execution.kill()
            await self.call("removing the container", container.remove, force=True)

    def _volume(self, name: str) -> None:
        try:
            self.client.volumes.get(name)
        except docker.errors.NotFound:
            self.client.volumes.create(name, labels={"infrax.cache": "true"})

    def _create(self, launch: Launch) -> Container:
        job, limits = launch.job, launch.limits
        assert job.image is not None
        volumes = {name: {"bind": path, "mode": "rw"} for name, path in launch.volumes.items()}
        held: dict[str, Any] = {}
        if launch.hold_binary is not None:  # interactive: the command runs as an exec
            held = hold_settings(launch)
            volumes.update(held.pop("extra_volumes"))
        else:
            held["command"] = list(job.commands[0]) if job.commands else None
        return self.client.containers.create(
            job.image,
            name=launch.name,
            environment=launch.env,
            labels={**launch.labels, WORKER_LABEL: self.worker},
            volumes=volumes,
            **held,
            privileged=job.privileged,
            security_opt=[] if job.privileged else ["no-new-privileges"],
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
            nano_cpus=int(limits.cpus * 1e9) if limits.cpus else None,
            detach=True,
        )

    async def remove_volume(self, name: str) -> None:
        await self.call("purging a cache volume", self._remove_volume, name)

    def _remove_volume(self, name: str) -> None:
        with suppress(docker.errors.NotFound):
            self.client.volumes.get(name).remove(force=True)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


class DockerExecution:
    def __init__(
        self, engine: DockerEngine, container: Container, log: TaskLog, launch: Launch
    ) -> None:
        self.engine = engine
        self.container = container
        self.log = log
        self.launch = launch
        self._exec_id: str | None = None  # held containers: the task's command
        self._pump: asyncio.Future[None] | None = None
        self._exit_code: int | None = None
        self._killed = False

    async def start(self) -> None:
        try:
            await self.engine.call("starting the container", self.container.start)
        except MalformedPayload as error:
            if not any(text in str(error).lower() for text in _NOT_STARTABLE):
                raise
            self.log.line(f"the command could not be started: {error}")
            self._exit_code = COMMAND_NOT_FOUND
            return
        loop = asyncio.get_running_loop()
        if self.launch.hold_binary is not None:
            await self._start_command()
        self._pump = loop.run_in_executor(self.engine._pool, self._stream, loop)

    async def _start_command(self) -> None:
        """Held container: the task's command as an exec (docker_shell.py)."""
        assert self.launch.job.image is not None
        image = await self.engine.call(
            "inspecting the image", self.engine.client.images.get, self.launch.job.image
        )
        argv = task_argv(image.attrs.get("Config") or {}, self.launch)
        created = await self.engine.call(
            "starting the command", self.engine.client.api.exec_create, self.container.id, argv
        )
        self._exec_id = str(created["Id"])

    def _stream(self, loop: asyncio.AbstractEventLoop) -> None:
        """Copy the output to the task log until the container (or the command) stops."""
        try:
            if self._exec_id is not None:
                output = self.engine.client.api.exec_start(self._exec_id, stream=True)
            else:
                output = self.container.logs(stream=True, follow=True)
            for chunk in output:
                loop.call_soon_threadsafe(self.log.write, chunk)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return  # the container went away (killed and removed); wait() tells why

    async def wait(self) -> int:
        if self._exit_code is not None:
            return self._exit_code
        assert self._pump is not None
        await self._pump
        if self._exec_id is not None:
            self._exit_code = await self._command_exit()
            return self._exit_code
        result = await self.engine.call("waiting for the container", self.container.wait)
        self._exit_code = int(result.get("StatusCode", -1))
        await self._note_oom()
        return self._exit_code

    async def _note_oom(self) -> None:
        await self.engine.call("inspecting the container", self.container.reload)
        state = self.container.attrs.get("State", {})
        if state.get("OOMKilled") and not self._killed:
            limit = self.container.attrs.get("HostConfig", {}).get("Memory") or 0
            self.log.line(f"the container ran out of memory (limit {limit // 2**20} MiB)")

    async def kill(self) -> None:
        if self._exit_code is not None:
            return
        self._killed = True
        # TaskError: it had already stopped (409) or is gone (404); either way it runs no more.
        with contextlib.suppress(TaskError):
            await self.engine.call("killing the container", self.container.kill)

    async def usage(self) -> Usage | None:
        if self._exit_code is not None or self._pump is None or self._pump.done():
            return None
        try:
            stats = await self.engine.call(
                "sampling resources", self.container.stats, stream=False, one_shot=True
            )
        except TaskError:
            return None
        return _usage(stats) if isinstance(stats, dict) else None

    async def fetch(self, request: ArtifactRequest, staging: Path) -> list[FetchedFile]:
        return await extract_artifact(self, request, staging)

    async def save_image(self, into: Path) -> None:
        await save_container(self, into)

    async def _command_exit(self) -> int:
        assert self._exec_id is not None
        info = await self.engine.call(
            "inspecting the command", self.engine.client.api.exec_inspect, self._exec_id
        )
        code = info.get("ExitCode")
        if self._killed or code is None:
            return 137  # killed with the container (SIGKILL), as `docker run` reports it
        return int(code)

    async def terminal(self) -> DockerTerminal:
        if self.launch.hold_binary is None:
            raise ResourceUnavailable("shells need an interactive run")
        return await open_terminal(self.engine, str(self.container.id))


def _usage(stats: dict[str, Any]) -> Usage | None:
    cpu = stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage")
    memory = stats.get("memory_stats", {})
    if cpu is None or "usage" not in memory:
        return None
    return Usage(cpu / 1e9, int(memory["usage"]), memory.get("max_usage"))
