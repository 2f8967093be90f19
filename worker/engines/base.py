"""The Engine Protocol: what a run asks of Docker or of plain processes.

`prepare()` does what may take long (pulling the image) and can be cancelled. `execute()` is an
async context manager: entering it starts the job (creating the container or the task
directory); leaving it kills whatever still runs and removes the
container or the task directory, also when the run failed or was cancelled. In between the run
waits for the exit code, may kill it (max run time, cancel, shutdown), samples its resource use
and fetches its artifacts, which works after the job has exited and before it is removed.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from ..payload import ArtifactRequest, Job
from ..tasklog import TaskLog

if TYPE_CHECKING:
    from ..shells import Terminal

__all__ = ["Engine", "Execution", "FetchedFile", "Launch", "Limits", "Usage"]


@dataclass(frozen=True)
class Limits:
    memory_bytes: int | None = None
    cpus: float | None = None


@dataclass(frozen=True)
class Launch:
    name: str  # unique on this host: the container's name or the task directory's
    job: Job
    env: dict[str, str]  # the whole environment of the task, standard variables included
    labels: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)  # volume name -> mount path
    limits: Limits = Limits()
    # Interactive Docker runs: a static busybox that keeps the container alive after the
    # command exits (the command then runs as an exec), and starts shells.
    hold_binary: Path | None = None


@dataclass(frozen=True)
class Usage:
    cpu_s: float  # CPU seconds used since the start
    memory_bytes: int  # memory in use now
    peak_memory_bytes: int | None = None  # as the kernel counted it, when it tells


@dataclass(frozen=True)
class FetchedFile:
    relative: str  # "" for a file artifact; the path inside a directory artifact
    local: Path  # a readable local copy (or the file itself, for the process engine)
    size: int


class Execution(Protocol):
    async def wait(self) -> int:
        """The exit code: the job's, or the first non-zero of a sequence of commands."""
        ...

    async def kill(self) -> None:
        """Stop everything the job runs, at once; harmless when it has already exited."""
        ...

    async def usage(self) -> Usage | None:
        """Resource use so far, or None when the job is not running."""
        ...

    async def fetch(self, request: ArtifactRequest, staging: Path) -> list[FetchedFile]:
        """The files of an artifact; ArtifactProblem when missing or not what was declared."""
        ...

    async def save_image(self, into: Path) -> None:
        """Write the finished job's file system as a `docker load` tarball."""
        ...

    async def terminal(self) -> Terminal:
        """A shell on a new terminal in the job's environment (features.interactive)."""
        ...


class Engine(Protocol):
    @property
    def kind(self) -> Literal["docker", "process"]: ...

    async def prepare(self, launch: Launch, log: TaskLog) -> None:
        """What may take long before the start (pulling the image); safe to cancel."""
        ...

    def execute(self, launch: Launch, log: TaskLog) -> AbstractAsyncContextManager[Execution]:
        """Prepare and start the job; kill and remove it on exit."""
        ...

    async def remove_volume(self, name: str) -> None:
        """Delete a cache volume (purgeCaches); harmless when it does not exist."""
        ...

    async def close(self) -> None: ...
