"""Interactive Docker runs: a held container, the task's command as an exec, shells as execs.

A container whose shells must outlive its command (features.interactive) is created with a
static busybox mounted at HOLD_PATH as its main process, which only sleeps; the task's command
(the image's entrypoint and command, or the payload's) runs as an exec whose output is the task
log and whose exit code is the task's. When the command exits the container is still there
for shells, until the run removes it.

A shell is an exec with a TTY. Its stream is taken over from the engine's HTTP API with an
`Upgrade: tcp` request on our own asyncio connection (no blocking thread per session); the
terminal's size goes through the exec resize call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from typing import TYPE_CHECKING, Any

from ..errors import MalformedPayload, ResourceUnavailable
from .base import Launch

if TYPE_CHECKING:
    from .docker import DockerEngine

__all__ = ["HOLD_PATH", "DockerTerminal", "hold_settings", "open_terminal", "task_argv"]

HOLD_PATH = "/.infrax/busybox"
# The shell a session gets: the image's bash or sh, else the mounted busybox's.
SHELL = [
    HOLD_PATH,
    "sh",
    "-c",
    "for s in bash sh; do command -v $s >/dev/null 2>&1 && exec $s; done; exec "
    + HOLD_PATH
    + " sh",
]
READ_CHUNK = 64 * 1024


def hold_settings(launch: Launch) -> dict[str, Any]:
    """The container's create() arguments that hold it open (checked to be possible)."""
    binary = launch.hold_binary
    assert binary is not None
    if not binary.is_file():
        raise MalformedPayload(
            f"this worker cannot run features.interactive: no static busybox at {binary}"
        )
    return {
        "entrypoint": [HOLD_PATH, "sleep", "2147483647"],
        "command": None,
        "extra_volumes": {str(binary): {"bind": HOLD_PATH, "mode": "ro"}},
    }


def task_argv(image_config: dict[str, Any], launch: Launch) -> list[str]:
    """What `docker run` would run: the image's entrypoint, then the payload's command or
    the image's (pure)."""
    entrypoint = list(image_config.get("Entrypoint") or [])
    command = (
        list(launch.job.commands[0]) if launch.job.commands else list(image_config.get("Cmd") or [])
    )
    argv = entrypoint + command
    if not argv:
        raise MalformedPayload("the payload is invalid: no command, and the image has none")
    return argv


def _engine_address() -> tuple[str, int] | str:
    """The engine's socket path, or (host, port) for tcp (DOCKER_HOST, as the SDK reads it)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    address = host.removeprefix("tcp://").removeprefix("http://").rstrip("/")
    name, _, port = address.rpartition(":")
    return name, int(port or 2375)


async def _take_over(exec_id: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = _engine_address()
    if isinstance(address, str):
        reader, writer = await asyncio.open_unix_connection(address)
    else:
        reader, writer = await asyncio.open_connection(*address)
    body = json.dumps({"Detach": False, "Tty": True}).encode()
    head = (
        f"POST /exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n"
        "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    status = await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    if b" 101 " not in status and b" 200 " not in status:
        writer.close()
        raise ResourceUnavailable(
            f"Docker refused the shell: {status.decode(errors='replace').strip()}"
        )
    return reader, writer


class DockerTerminal:
    def __init__(
        self,
        engine: DockerEngine,
        exec_id: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.engine = engine
        self.exec_id = exec_id
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes:
        try:
            return await self._reader.read(READ_CHUNK)
        except ConnectionError:
            return b""

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def resize(self, rows: int, cols: int) -> None:
        api = self.engine.client.api
        await self.engine.call(
            "resizing a shell", api.exec_resize, self.exec_id, height=rows, width=cols
        )

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        with contextlib.suppress(Exception):
            info = await self.engine.call(
                "inspecting a shell", self.engine.client.api.exec_inspect, self.exec_id
            )
            if info.get("Running") and info.get("Pid"):
                os.kill(int(info["Pid"]), signal.SIGKILL)  # Docker has no call to end an exec


async def open_terminal(engine: DockerEngine, container_id: str) -> DockerTerminal:
    api = engine.client.api
    created = await engine.call(
        "starting a shell",
        api.exec_create,
        container_id,
        SHELL,
        stdin=True,
        tty=True,
        environment={"TERM": "xterm-256color"},
    )
    exec_id = str(created["Id"])
    try:
        reader, writer = await _take_over(exec_id)
    except OSError as error:
        raise ResourceUnavailable(f"the Docker engine did not answer a shell: {error}") from error
    return DockerTerminal(engine, exec_id, reader, writer)
