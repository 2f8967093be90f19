"""`infrax logs TASK_ID [--run N] [--follow]`: a run's log, live or stored (protocol.md §18.5).

The log comes from `public/logs/live.log`: while the run is live that is a reference to its
stream (followed over a websocket, reconnecting from the offset reached when the connection
drops); afterwards it is a link to the stored log, of which the bytes not yet printed are
printed. With `--follow`, once the log is complete the command waits for the task to resolve,
prints the resolution on stderr, and exits 0 (completed), 1 (failed) or 3 (exception).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Sequence
from typing import BinaryIO, Protocol

import aiohttp

from ..client import (
    ApiCallError,
    ClientError,
    EventStream,
    LogStream,
    Queue,
    ResourceExpired,
    ResourceNotFound,
    ServerError,
    TransportError,
)
from ..protocol.artifacts import ReferenceContent
from ..protocol.events import Exchange
from ..protocol.livelog import BACKING_LOG, LIVE_LOG, closing_worker_lines
from ..protocol.states import RunState
from ..protocol.stream import Binding
from .common import Exit, connection_flags, options_of, run_command

__all__ = ["closing_lines", "command", "follow_log", "print_log"]

RESOLVED = (Exchange.task_completed, Exchange.task_failed, Exchange.task_exception)
EXIT_OF_STATE = {"completed": Exit.ok, "failed": Exit.task_failed, "exception": Exit.task_exception}
MAX_PAUSE_S = 10.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax logs",
        description="Print a task's log from the start; --follow keeps printing until it resolves.",
        parents=[connection_flags()],
    )
    parser.add_argument("task_id")
    parser.add_argument("--run", type=int, help="the run (default: the latest)")
    parser.add_argument(
        "--follow", "-f", action="store_true", help="keep printing until the task resolves"
    )
    return parser


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            return await _logs(queue, args.task_id, args.run, args.follow, sys.stdout.buffer)

    return run_command("infrax logs", body)


async def follow_log(queue: Queue, task_id: str, out: BinaryIO, prog: str = "infrax logs") -> int:
    """Print the latest run's log as it is written until the task resolves (the first run,
    once it starts); the exit code of its resolution: 0 completed, 1 failed, 3 exception."""
    return await _logs(queue, task_id, None, True, out, prog)


async def _logs(
    queue: Queue,
    task_id: str,
    run: int | None,
    follow: bool,
    out: BinaryIO,
    prog: str = "infrax logs",
) -> int:
    async with queue.events(
        [Binding.for_task(exchange, task_id) for exchange in RESOLVED]
    ) as events:
        run_id = await _run_id(queue, task_id, run, follow)
        if run_id is None:
            sys.stderr.write(f"{prog}: task {task_id} has no run yet\n")
            return Exit.ok
        await print_log(queue, task_id, run_id, follow, out)
        if not follow:
            return Exit.ok
        state = await _resolution(queue, events, task_id, run_id)
    run_text = f"task {task_id} run {run_id}"
    sys.stderr.write(f"{run_text}: {state}\n")
    return EXIT_OF_STATE.get(state.split("/")[0], Exit.task_exception)


async def _run_id(queue: Queue, task_id: str, run: int | None, follow: bool) -> int | None:
    """The run asked for (or the latest); with --follow, waits for the first run to start."""
    pause = 0.5
    while True:
        status = (await queue.status(task_id)).status
        if run is not None:
            if run >= len(status.runs):
                raise ResourceNotFound(
                    "status", 404, "ResourceNotFound", f"task {task_id} has no run {run}"
                )
            return run
        if status.runs and status.runs[-1].state is not RunState.pending:
            return len(status.runs) - 1
        if not follow:
            return len(status.runs) - 1 if status.runs else None
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)


async def print_log(queue: Queue, task_id: str, run_id: int, follow: bool, out: BinaryIO) -> int:
    """Print the run's log (following it if asked); the number of bytes printed."""
    offset, failures = 0, 0
    while True:
        try:
            content = await queue.artifact(task_id, run_id, LIVE_LOG)
        except ResourceNotFound:
            if await _resolved(queue, task_id, run_id):
                # A run can end without a live log (its payload refused before it started):
                # the stored task log is then the whole log, when the worker uploaded one.
                return await _backing(queue, task_id, run_id, offset, out)
            if not follow:
                return offset  # not started yet: nothing to print
            content = None
        if isinstance(content, ReferenceContent):
            try:
                offset, complete = await _stream(queue, content.url, offset, follow, out)
                if complete or not follow:
                    return offset
            except (ResourceExpired, ResourceNotFound):
                continue  # the run ended meanwhile: live.log is a link now
            except (ServerError, TransportError):
                pass  # the worker is away for a moment: try again
        elif content is not None:
            return await _stored(queue, content, offset, out)
        failures += 1
        await asyncio.sleep(min(MAX_PAUSE_S, 0.25 * 2**failures) * (0.5 + random.random()))


async def _stream(
    queue: Queue, url: str, offset: int, follow: bool, out: BinaryIO
) -> tuple[int, bool]:
    async with LogStream(queue.session(), url, offset=offset, follow=follow) as stream:
        async for chunk in stream:
            out.write(chunk)
            out.flush()
    return stream.offset, stream.complete


async def _resolved(queue: Queue, task_id: str, run_id: int) -> bool:
    runs = (await queue.status(task_id)).status.runs
    return run_id < len(runs) and runs[run_id].state not in (RunState.pending, RunState.running)


async def _backing(queue: Queue, task_id: str, run_id: int, offset: int, out: _Sink) -> int:
    """Print the run's stored task log from `offset`, if there is one."""
    try:
        content = await queue.artifact(task_id, run_id, BACKING_LOG)
    except ResourceNotFound:
        return offset
    return await _stored(queue, content, offset, out)


async def closing_lines(queue: Queue, task_id: str, run_id: int) -> list[str]:
    """The worker's lines ending the run's stored task log, which say why it ended as it
    did; none when there is no log to read."""
    tail = _Tail()
    try:
        await _backing(queue, task_id, run_id, 0, tail)
    except (ClientError, aiohttp.ClientError):
        return []
    return closing_worker_lines(tail.data.decode("utf-8", "replace"))


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> None: ...


class _Tail:
    """Keeps the last `size` bytes written to it."""

    def __init__(self, size: int = 64 * 1024) -> None:
        self.size = size
        self.data = bytearray()

    def write(self, data: bytes, /) -> int:
        self.data += data
        del self.data[: max(0, len(self.data) - self.size)]
        return len(data)

    def flush(self) -> None:
        pass


async def _stored(queue: Queue, content: object, offset: int, out: _Sink) -> int:
    url = getattr(content, "url", None)
    if not isinstance(url, str):
        raise ClientError(f"{LIVE_LOG} is not readable as a URL: {content!r}")
    async with queue.session().get(url) as response:
        if response.status >= 400:
            raise ApiCallError("artifact", response.status, "", await response.text())

        seen = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            fresh = chunk[max(0, offset - seen) :]
            seen += len(chunk)
            if fresh:
                out.write(fresh)
        out.flush()
    return max(seen, offset)


async def _resolution(queue: Queue, events: EventStream, task_id: str, run_id: int) -> str:
    """`completed`, `failed` or `exception/<reason>` once the run is resolved (woken by the
    task's resolution events, checked against its status)."""
    while True:
        run = (await queue.status(task_id)).status.runs[run_id]
        if run.state not in (RunState.pending, RunState.running):
            reason = str(run.reason_resolved)
            return run.state.value if reason == run.state.value else f"{run.state.value}/{reason}"
        try:
            await anext(aiter(events))
        except (StopAsyncIteration, ClientError):  # the stream ended: look again after a pause
            await asyncio.sleep(1.0)
