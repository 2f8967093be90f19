"""A shell on a PTY beside a process run (features.interactive on the process engine).

The shell (bash when the host has it, else sh) starts in the task directory, as the user the
task runs as, with the task's environment, as the leader of a new session whose controlling
terminal is the PTY, so job control and Ctrl-C work. The PTY's size is set with TIOCSWINSZ,
which also tells the shell (SIGWINCH). Closing ends the session's processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import shutil
import signal
import struct
import termios
from collections.abc import Callable
from pathlib import Path

__all__ = ["ProcessTerminal", "open_terminal"]

READ_CHUNK = 64 * 1024
EXIT_WAIT_S = 5.0


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _become_session_leader() -> None:
    """In the child: a new session whose controlling terminal is stdin (the PTY)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


async def _ready(fd: int, add: Callable[..., None], remove: Callable[[int], bool]) -> None:
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    add(fd, wake)
    try:
        await waiter
    finally:
        remove(fd)


class ProcessTerminal:
    def __init__(self, master: int, process: asyncio.subprocess.Process) -> None:
        self.master = master
        self.process = process
        self._exited = asyncio.ensure_future(process.wait())
        self._closed = False

    async def read(self) -> bytes:
        loop = asyncio.get_running_loop()
        while not self._closed:
            try:
                return os.read(self.master, READ_CHUNK)
            except BlockingIOError:
                pass
            except OSError:  # EIO: every process on the terminal has closed it
                return b""
            readable = asyncio.ensure_future(
                _ready(self.master, loop.add_reader, loop.remove_reader)
            )
            waits: list[asyncio.Future[object]] = [readable, self._exited]  # type: ignore[list-item]
            done: set[asyncio.Future[object]] = set()
            try:
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # The selector must forget the fd before it is closed and its number reused.
                readable.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await readable
            if readable not in done:
                return self._drain()  # the shell exited; what it left, then the end
        return b""

    def _drain(self) -> bytes:
        with contextlib.suppress(OSError):
            return os.read(self.master, READ_CHUNK)
        return b""

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        while data and not self._closed:
            try:
                data = data[os.write(self.master, data) :]
            except BlockingIOError:
                writable = asyncio.ensure_future(
                    _ready(self.master, loop.add_writer, loop.remove_writer)
                )
                try:
                    await writable
                finally:
                    writable.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await writable
            except OSError:
                return

    async def resize(self, rows: int, cols: int) -> None:
        with contextlib.suppress(OSError):
            _set_size(self.master, rows, cols)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sig in (signal.SIGHUP, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exited), EXIT_WAIT_S / 5)
                break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), EXIT_WAIT_S)
        os.close(self.master)


async def open_terminal(
    cwd: Path, env: dict[str, str], identity: tuple[int | None, int | None, list[int] | None]
) -> ProcessTerminal:
    master, slave = pty.openpty()
    try:
        _set_size(slave, 24, 80)
        user, group, groups = identity
        if user is not None:
            os.fchown(slave, user, group if group is not None else -1)
        shell = shutil.which("bash") or "/bin/sh"
        process = await asyncio.create_subprocess_exec(
            shell,
            cwd=cwd,
            env={**env, "TERM": "xterm-256color", "SHELL": shell},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            preexec_fn=_become_session_leader,
            user=user,
            group=group,
            extra_groups=groups,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    return ProcessTerminal(master, process)
