"""Interactive shell sessions in a run (protocol.md §18.4; features/interactive.py).

A viewer's websocket speaks generic-worker's v2 frames (clients/protocol/livelog.py): its
stdin and resizes go to a terminal the engine opens in the task's environment (a Docker exec
with a TTY, or a PTY beside the task's processes), and the terminal's output goes back raw. A
message that is not a v2 frame closes that session only. While any session is open the run's
container is kept (`idle` is clear); at most `limit` sessions are open at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from clients.protocol.livelog import (
    CLOSE_BAD_FRAME,
    CLOSE_SESSION_ENDED,
    Resize,
    ShellFrameError,
    parse_shell_frame,
)
from clients.relay import ChannelClosedError

from .livelog import RefusedError, Viewer
from .tasklog import TaskLog

__all__ = ["ShellHost", "Terminal"]

logger = logging.getLogger("infrax.worker.shells")
CLOSE_SHELL_FAILED = 1011


class Terminal(Protocol):
    """A shell on a terminal, opened by the engine."""

    async def read(self) -> bytes:
        """The terminal's next output; b"" once the shell has exited."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def resize(self, rows: int, cols: int) -> None: ...

    async def close(self) -> None:
        """End the shell (and what it started); harmless after it exited."""
        ...


class ShellHost:
    def __init__(
        self, open_terminal: Callable[[], Awaitable[Terminal]], limit: int, log: TaskLog
    ) -> None:
        self._open_terminal = open_terminal
        self.limit = limit
        self.log = log
        self.sessions = 0
        self.opened = 0  # sessions ever opened
        self.idle = asyncio.Event()
        self.idle.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def check_room(self) -> None:
        if self._closed:
            raise RefusedError(410, "the run is over: its shells are closed")
        if self.sessions >= self.limit:
            raise RefusedError(429, f"this run already has {self.limit} shell sessions open")

    async def attach(self, viewer: Viewer) -> None:
        """Serve one session until the shell exits, the viewer leaves, or the run ends."""
        self.check_room()
        self.sessions += 1
        self.opened += 1
        self.idle.clear()
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        number = self.opened
        self.log.line(f"shell session {number} opened ({self.sessions} open)")
        try:
            await self._session(viewer)
        finally:
            self._tasks.discard(task)
            self.sessions -= 1
            if self.sessions == 0:
                self.idle.set()
            self.log.line(f"shell session {number} closed")

    async def _session(self, viewer: Viewer) -> None:
        try:
            terminal = await self._open_terminal()
        except Exception as error:
            logger.warning("shell_failed", extra={"reason": str(error)})
            await _close(viewer, CLOSE_SHELL_FAILED, f"the shell could not start: {error}")
            return
        output = asyncio.ensure_future(_output(terminal, viewer))
        typing = asyncio.ensure_future(_input(viewer, terminal))
        try:
            await asyncio.wait((output, typing), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in (output, typing):
                pump.cancel()
                with contextlib.suppress(
                    asyncio.CancelledError, ChannelClosedError, ConnectionError
                ):
                    await pump
            await terminal.close()
        code, reason = CLOSE_SESSION_ENDED, "the shell exited"
        if typing.done() and not typing.cancelled() and typing.exception() is None:
            code, reason = typing.result()
        await _close(viewer, code, reason)

    async def close_all(self) -> None:
        """End every session (the run is over) and refuse new ones."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _output(terminal: Terminal, viewer: Viewer) -> None:
    while data := await terminal.read():
        await viewer.send(data)


async def _input(viewer: Viewer, terminal: Terminal) -> tuple[int, str]:
    """Frames from the viewer to the terminal; the close code once the viewer stops."""
    while (message := await viewer.receive()) is not None:
        try:
            frame = parse_shell_frame(message)
        except ShellFrameError as error:
            return CLOSE_BAD_FRAME, f"not a shell frame: {error}"
        if isinstance(frame, Resize):
            await terminal.resize(frame.rows, frame.cols)
        else:
            await terminal.write(frame.data)
    return CLOSE_SESSION_ENDED, "the viewer left"


async def _close(viewer: Viewer, code: int, reason: str) -> None:
    with contextlib.suppress(ChannelClosedError, ConnectionError):
        await viewer.close(code, reason)
