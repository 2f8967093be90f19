"""The process engine: commands run as plain processes in a fresh task directory.

For hosts without Docker (generic-worker's insecure engine, reference 5.2). The commands run in
sequence; the first that exits non-zero ends the run. Each command leads its own process
group; killing the run (timeout, cancel, shutdown, or simply the end of the commands) kills
every group it started and every descendant still found, so nothing of a task outlives it.
When the worker runs as root the commands run as an unprivileged user (`run_as_user`), in a
task directory that user owns. The environment is built from scratch: the worker's own
variables, credentials above all, never reach the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

from clients.protocol.payloads import PROCESS_PATH

from ..errors import InternalError
from ..payload import ArtifactRequest
from ..tasklog import TaskLog
from .base import FetchedFile, Launch, Usage
from .process_files import collect_artifact
from .process_shell import ProcessTerminal, open_terminal

__all__ = ["BASE_PATH", "ProcessEngine", "ProcessExecution", "RunAs"]

BASE_PATH = PROCESS_PATH
READ_CHUNK = 64 * 1024
# A command's background children may keep its output open; after the command exits, its
# remaining output is read for this long before the next command starts.
DRAIN_S = 2.0


@dataclass(frozen=True)
class RunAs:
    uid: int
    gid: int
    name: str
    home: str

    @classmethod
    def lookup(cls, user: str) -> RunAs:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise InternalError(f"the user {user!r} tasks should run as does not exist") from None
        return cls(entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir)

    @classmethod
    def current(cls) -> RunAs:
        entry = pwd.getpwuid(os.geteuid())
        return cls(entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir)


class ProcessEngine:
    kind: Literal["process"] = "process"

    def __init__(self, tasks_dir: Path, run_as: RunAs) -> None:
        self.tasks_dir = tasks_dir
        self.run_as = run_as

    @classmethod
    def for_user(cls, tasks_dir: Path, run_as_user: str) -> ProcessEngine:
        """Tasks run as `run_as_user` when the worker is root, else as the worker's user."""
        run_as = RunAs.lookup(run_as_user) if os.geteuid() == 0 else RunAs.current()
        return cls(tasks_dir, run_as)

    async def prepare(self, launch: Launch, log: TaskLog) -> None:
        return None

    @asynccontextmanager
    async def execute(self, launch: Launch, log: TaskLog) -> AsyncIterator[ProcessExecution]:
        task_dir = self.tasks_dir / launch.name
        await asyncio.to_thread(self._make_task_dir, task_dir)
        execution = ProcessExecution(task_dir, launch, log, self.run_as)
        try:
            yield execution
        finally:
            await execution.kill()
            await asyncio.to_thread(shutil.rmtree, task_dir, True)

    def _make_task_dir(self, task_dir: Path) -> None:
        self.tasks_dir.mkdir(parents=True, exist_ok=True, mode=0o711)
        shutil.rmtree(task_dir, ignore_errors=True)
        task_dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            os.chown(task_dir, self.run_as.uid, self.run_as.gid)

    async def remove_volume(self, name: str) -> None:
        return None  # the process engine has no caches

    async def close(self) -> None:
        return None


class ProcessExecution:
    def __init__(self, task_dir: Path, launch: Launch, log: TaskLog, run_as: RunAs) -> None:
        self.task_dir = task_dir
        self.launch = launch
        self.log = log
        self.run_as = run_as
        self._groups: list[int] = []
        self._pumps: list[asyncio.Task[None]] = []
        self._current: psutil.Process | None = None
        self._killed = False
        self._done = False

    def environment(self) -> dict[str, str]:
        base = {
            "PATH": BASE_PATH,
            "HOME": str(self.task_dir),
            "USER": self.run_as.name,
            "LOGNAME": self.run_as.name,
            "LANG": "C.UTF-8",
            "TASK_WORKDIR": str(self.task_dir),
        }
        return {**base, **self.launch.env, "TASK_WORKDIR": str(self.task_dir)}

    async def wait(self) -> int:
        code = 0
        for command in self.launch.job.commands:
            if self._killed:
                break
            code = await self._run(command)
            if code != 0:
                break
        self._done = True
        await self.kill()
        return code

    async def _run(self, command: tuple[str, ...]) -> int:
        self.log.line(f"running {' '.join(command)}")
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=self.task_dir,
                env=self.environment(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                user=self._identity()[0],
                group=self._identity()[1],
                extra_groups=self._identity()[2],
            )
        except (FileNotFoundError, PermissionError) as error:
            self.log.line(f"the command could not be started: {error.strerror}: {command[0]}")
            return 127 if isinstance(error, FileNotFoundError) else 126
        self._groups.append(process.pid)
        if self._killed:  # killed while it was being spawned
            await self.kill()
        with contextlib.suppress(psutil.Error):
            self._current = psutil.Process(process.pid)
        assert process.stdout is not None
        pump = asyncio.create_task(self._pump(process.stdout))
        self._pumps.append(pump)
        returncode = await process.wait()
        await asyncio.wait([pump], timeout=DRAIN_S)
        return returncode if returncode >= 0 else 128 - returncode

    def _identity(self) -> tuple[int | None, int | None, list[int] | None]:
        """user, group and extra groups to switch to: only a root worker switches."""
        if os.geteuid() != 0:
            return None, None, None
        return self.run_as.uid, self.run_as.gid, []

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_CHUNK):
            self.log.write(chunk)

    async def kill(self) -> None:
        """SIGKILL every process group the run started and every descendant still found."""
        self._killed = True
        found: list[psutil.Process] = []
        for pgid in self._groups:
            with contextlib.suppress(psutil.Error):
                found += psutil.Process(pgid).children(recursive=True)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        for process in found:
            with contextlib.suppress(psutil.Error):
                process.kill()
        for pump in self._pumps:
            pump.cancel()

    async def usage(self) -> Usage | None:
        if self._done or self._current is None:
            return None
        return await asyncio.to_thread(_usage, self._current)

    async def fetch(self, request: ArtifactRequest, staging: Path) -> list[FetchedFile]:
        return await asyncio.to_thread(collect_artifact, self.task_dir, request)

    async def save_image(self, into: Path) -> None:
        raise InternalError("the process engine has no image to save")

    async def terminal(self) -> ProcessTerminal:
        return await open_terminal(self.task_dir, self.environment(), self._identity())


def _usage(leader: psutil.Process) -> Usage | None:
    try:
        with leader.oneshot():
            times = leader.cpu_times()
            cpu = times.user + times.system + times.children_user + times.children_system
            memory = leader.memory_info().rss
        for child in leader.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                times = child.cpu_times()
                cpu += times.user + times.system
                memory += child.memory_info().rss
    except psutil.Error:
        return None
    return Usage(cpu, memory)
