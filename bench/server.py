"""A queue server in its own process: `infrax queue --port 0` on a fresh data directory."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "BenchError",
    "Deployed",
    "Deployment",
    "QueueProcess",
    "Secrets",
    "Served",
    "running_queue",
    "thread_ticks",
]

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
ROOT_URL_PREFIX = "rootUrl: "


class BenchError(Exception):
    """The benchmark could not run: the server did not start or answered with an error."""


class Served(Protocol):
    """A queue to call: one server, or replicas behind a load balancer."""

    @property
    def root_url(self) -> str: ...

    @property
    def root_access_token(self) -> str: ...


class Deployed(Served, Protocol):
    """A running deployment: where to call it, and the servers to wait and create on when
    measuring claim latency (the same server, or two replicas)."""

    def cpu_seconds(self) -> float | None: ...

    @property
    def waiter(self) -> Served: ...

    @property
    def creator(self) -> Served: ...


Deployment = Callable[[], AbstractAsyncContextManager[Deployed]]


@dataclass(frozen=True)
class Secrets:
    """What every replica of one deployment shares: the root token and the secret key."""

    root_access_token: str
    secret_key: str

    @classmethod
    def new(cls) -> Secrets:
        return cls(secrets.token_urlsafe(32), secrets.token_hex(32))


@dataclass(frozen=True)
class QueueProcess:
    root_url: str
    root_access_token: str
    pid: int
    data_dir: Path

    @property
    def waiter(self) -> QueueProcess:
        return self

    @property
    def creator(self) -> QueueProcess:
        return self

    def cpu_seconds(self) -> float | None:
        """User + system CPU the server process has used so far (Linux), or None."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            return None
        # After the command name: state is field 3, utime and stime are fields 14 and 15.
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[int, int]:
    """utime + stime of each of a process's threads by thread id, in clock ticks (Linux)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the thread ended meanwhile
        found[int(task.name)] = int(fields[11]) + int(fields[12])
    return found


def infrax_command() -> list[str]:
    """The `infrax` console script next to this interpreter, else the module behind it."""
    script = Path(sys.executable).parent / "infrax"
    if script.exists():
        return [str(script)]
    found = shutil.which("infrax")
    return [found] if found else [sys.executable, "-m", "clients.cli.main"]


async def _root_url(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        text = line.decode(errors="replace").strip()
        if text.startswith(ROOT_URL_PREFIX):
            return text.removeprefix(ROOT_URL_PREFIX)
    raise BenchError(f"the server exited (code {await process.wait()}) before its rootUrl")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


@asynccontextmanager
async def running_queue(
    *extra_args: str,
    database_url: str | None = None,
    shared: Secrets | None = None,
    prepare: Callable[[Path], Awaitable[None]] | None = None,
) -> AsyncIterator[QueueProcess]:
    """Start `infrax queue` on 127.0.0.1, port 0, in a fresh temporary data directory; on
    PostgreSQL with `database_url`, as one replica of those given the same `shared`.
    `prepare(data_dir)` fills the data directory first, when given."""
    shared = shared or Secrets.new()
    token = shared.root_access_token
    if database_url is not None:
        extra_args = (*extra_args, "--database-url", database_url)
    with tempfile.TemporaryDirectory(prefix="infrax-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        if prepare is not None:
            data_dir.mkdir()
            await prepare(data_dir)
        env = {
            **os.environ,
            "INFRAX_ROOT_ACCESS_TOKEN": token,
            "INFRAX_SECRET_KEY": shared.secret_key,
        }
        args = [*infrax_command(), "queue", "--data-dir", str(data_dir), "--port", "0"]
        # Opening a fresh file in a temporary directory does not block the loop measurably.
        with open(Path(tmp) / "server.log", "wb") as log:  # noqa: ASYNC230
            process = await asyncio.create_subprocess_exec(
                *args, *extra_args, stdout=asyncio.subprocess.PIPE, stderr=log, env=env
            )
            try:
                try:
                    root_url = await asyncio.wait_for(_root_url(process), STARTUP_TIMEOUT_S)
                except (TimeoutError, BenchError) as error:
                    await _stop(process)
                    tail = (Path(tmp) / "server.log").read_text(errors="replace")[-2000:]
                    raise BenchError(f"the queue server did not start: {error}\n{tail}") from None
                yield QueueProcess(root_url, token, process.pid, data_dir)
            finally:
                await _stop(process)
