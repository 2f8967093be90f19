"""Live logs and interactive shells: artifact names, URLs and the shell's frames (protocol.md,
"Live logs, shells and the relay"). Pure.

The shell speaks generic-worker's interactive protocol v2 (reference 5.5): each client message
is binary, `0x01` + bytes for the terminal's input, or `0x02` + rows + cols as two
little-endian uint16 for a resize; the server sends the terminal's output as raw binary
messages, with no prefix.
"""

from __future__ import annotations

import struct
import urllib.parse
from dataclasses import dataclass

from .endpoints import by_name

__all__ = [
    "BACKING_LOG",
    "CLOSE_END_OF_LOG",
    "CLOSE_SESSION_ENDED",
    "LIVE_LOG",
    "LOG_HEADERS",
    "RESIZE",
    "SHELL_ARTIFACT",
    "STDIN",
    "WORKER_LINE",
    "Resize",
    "ShellFrameError",
    "Stdin",
    "closing_worker_lines",
    "log_page_url",
    "parse_shell_frame",
    "relay_url",
    "resize_frame",
    "shell_page_url",
    "socket_url",
    "stdin_frame",
]

LIVE_LOG = "public/logs/live.log"
BACKING_LOG = "public/logs/live_backing.log"
# How the worker's own lines in a task log start: `[infrax <time>] <message>` (protocol.md §16.3).
WORKER_LINE = "[infrax "


def closing_worker_lines(log: str, most: int = 10) -> list[str]:
    """The worker's lines that end a task log, after the task's last output: why the run
    ended as it did (a refused payload, an abort, the exit code), at most `most` of them.
    The log's first line, the run's header, is not one of them."""
    closing: list[str] = []
    for line in reversed(log.splitlines()[1:]):
        if not line.startswith(WORKER_LINE) or len(closing) == most:
            break
        closing.append(line)
    return closing[::-1]


SHELL_ARTIFACT = "private/infrax/shell.html"
LOG_CONTENT_TYPE = "text/plain; charset=utf-8"
SHELL_CONTENT_TYPE = "text/html; charset=utf-8"
# A live log's plain GET answer, as Taskcluster's livelog serves it (reference 5.4).
LOG_HEADERS = {
    "Content-Type": LOG_CONTENT_TYPE,
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Transfer-Encoding",
    "Cache-Control": "no-cache",
}

CLOSE_END_OF_LOG = 1000  # the log is complete: every byte was sent
CLOSE_SESSION_ENDED = 1000  # the shell exited
CLOSE_BAD_FRAME = 1003  # a message the shell protocol does not know; this session only
CLOSE_RUN_ENDED = 4002  # the run is over: its live log and shells are gone

STDIN = 0x01
RESIZE = 0x02
_SIZE = struct.Struct("<HH")


class ShellFrameError(ValueError):
    """A client message that is not a v2 frame."""


@dataclass(frozen=True)
class Stdin:
    data: bytes


@dataclass(frozen=True)
class Resize:
    rows: int
    cols: int


def stdin_frame(data: bytes) -> bytes:
    return bytes([STDIN]) + data


def resize_frame(rows: int, cols: int) -> bytes:
    return bytes([RESIZE]) + _SIZE.pack(rows, cols)


def parse_shell_frame(message: bytes) -> Stdin | Resize:
    if not message:
        raise ShellFrameError("an empty message")
    kind, body = message[0], message[1:]
    if kind == STDIN:
        return Stdin(bytes(body))
    if kind == RESIZE:
        if len(body) != _SIZE.size:
            raise ShellFrameError(f"a resize carries 4 bytes, not {len(body)}")
        rows, cols = _SIZE.unpack(body)
        if rows == 0 or cols == 0:
            raise ShellFrameError(f"a terminal of {rows}x{cols} is not a terminal")
        return Resize(rows, cols)
    raise ShellFrameError(f"unknown message type 0x{kind:02x} (0x01 stdin, 0x02 resize)")


def socket_url(http_url: str) -> str:
    """The websocket URL of an http(s) URL (same host, path and query)."""
    if http_url.startswith("https://"):
        return "wss://" + http_url.removeprefix("https://")
    if http_url.startswith("http://"):
        return "ws://" + http_url.removeprefix("http://")
    return http_url


def shell_page_url(root_url: str, socket: str, task_id: str, run_id: int) -> str:
    """The shell page with Taskcluster's query (`v=2&socketUrl=...&taskId=...&runId=...`)."""
    query = urllib.parse.urlencode(
        {"v": "2", "socketUrl": socket, "taskId": task_id, "runId": str(run_id)}
    )
    return f"{root_url}/shell/?{query}"


def log_page_url(root_url: str, task_id: str, run_id: int | None = None) -> str:
    query = {"taskId": task_id} | ({} if run_id is None else {"runId": str(run_id)})
    return f"{root_url}/livelog/?{urllib.parse.urlencode(query)}"


def relay_url(root_url: str, endpoint: str, task_id: str, run_id: int, secret: str) -> str:
    """The queue's relay URL of a run's `liveLog` or `shell` (an http URL)."""
    route = by_name(endpoint).route
    for name, value in (("taskId", task_id), ("runId", str(run_id)), ("secret", secret)):
        route = route.replace(f"<{name}>", urllib.parse.quote(value, safe=""))
    return f"{root_url}/api/queue/v1{route}"
