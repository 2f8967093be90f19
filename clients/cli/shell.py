"""`infrax shell TASK_ID [--run N]`: attach this terminal to a shell in a running task
(protocol.md §18.4, §18.5).

The shell's address is read from the run's `private/infrax/shell.html` artifact with the
caller's credentials. The local terminal is put in raw mode (every key, Ctrl-C included, goes
to the remote shell), its size is sent at the start and on every SIGWINCH, and the session
ends when the remote shell exits (Ctrl-D at its prompt, or `exit`). When stdin is not a
terminal, its end sends one Ctrl-D.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import termios
import tty
import urllib.parse
from collections.abc import Iterator, Sequence

from ..client import InsufficientScopes, Queue, ResourceNotFound, ShellSession
from ..protocol.artifacts import ReferenceContent
from ..protocol.livelog import SHELL_ARTIFACT
from .common import Exit, connection_flags, options_of, run_command

__all__ = ["command", "shell_socket_url"]

CTRL_D = b"\x04"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax shell",
        description="Open a shell in a running task (its payload must set features.interactive).",
        parents=[connection_flags()],
    )
    parser.add_argument("task_id")
    parser.add_argument("--run", type=int, help="the run (default: the latest)")
    return parser


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            try:
                url = await shell_socket_url(queue, args.task_id, args.run)
            except _NoShellError as error:
                sys.stderr.write(f"infrax shell: {error}\n")
                return Exit.refused
            async with ShellSession(queue.session(), url) as shell:
                await _attach(shell)
        if shell.close_code not in (1000, None):
            sys.stderr.write(f"\r\ninfrax shell: session closed: {shell.close_reason}\n")
            return Exit.unreachable
        return Exit.ok

    return run_command("infrax shell", body)


class _NoShellError(Exception):
    pass


async def shell_socket_url(queue: Queue, task_id: str, run: int | None) -> str:
    """The websocket URL of the run's shell, from its private shell artifact."""
    if run is None:
        runs = (await queue.status(task_id)).status.runs
        if not runs:
            raise _NoShellError(f"task {task_id} has no run yet")
        run = len(runs) - 1
    try:
        content = await queue.artifact(task_id, run, SHELL_ARTIFACT)
    except ResourceNotFound:
        raise _NoShellError(
            f"run {run} of task {task_id} has no shell: its payload does not set"
            " features.interactive, or it has not started yet"
        ) from None
    except InsufficientScopes:
        raise _NoShellError(
            f"reading {SHELL_ARTIFACT} needs the scope queue:get-artifact:{SHELL_ARTIFACT}"
        ) from None
    if not isinstance(content, ReferenceContent):
        raise _NoShellError(f"run {run} of task {task_id} has ended: its shell is gone")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(content.url).query)
    if not query.get("socketUrl"):
        raise _NoShellError(f"{SHELL_ARTIFACT} does not name a socketUrl: {content.url}")
    return query["socketUrl"][0]


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)


def _size() -> tuple[int, int] | None:
    for stream in (sys.stdout, sys.stdin):
        with contextlib.suppress(OSError, ValueError):
            size = os.get_terminal_size(stream.fileno())
            return size.lines, size.columns
    return None


async def _attach(shell: ShellSession) -> None:
    loop = asyncio.get_running_loop()
    stdin = sys.stdin.fileno()
    typed: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(stdin, 4096)
        except BlockingIOError:
            return
        if not data:
            loop.remove_reader(stdin)
        typed.put_nowait(data)

    async def resize() -> None:
        size = _size()
        if size is not None:
            await shell.resize(*size)

    with _raw(stdin):
        await resize()
        try:
            loop.add_reader(stdin, readable)
        except PermissionError:  # a regular file: read it whole
            typed.put_nowait(sys.stdin.buffer.read())
            typed.put_nowait(b"")
        loop.add_signal_handler(signal.SIGWINCH, lambda: asyncio.ensure_future(resize()))
        sending = asyncio.ensure_future(_send(shell, typed))
        try:
            async for output in shell:
                sys.stdout.buffer.write(output)
                sys.stdout.buffer.flush()
        finally:
            sending.cancel()
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(stdin)
            loop.remove_signal_handler(signal.SIGWINCH)


async def _send(shell: ShellSession, typed: asyncio.Queue[bytes]) -> None:
    while True:
        data = await typed.get()
        await shell.send(data or CTRL_D)  # the end of a piped stdin: one Ctrl-D
        if not data:
            return
