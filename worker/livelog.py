"""The worker's live-log and shell service (protocol.md §18).

Every run the worker holds is registered here with its task log and secrets. Viewers reach it
two ways, served by the same code: directly, on the worker's own HTTP server (`live_listen`,
advertised as `live_url`), or through the queue's relay, over the worker's one outbound
websocket (relay.py), for a worker no browser can reach.

- A log viewer gets the log from byte `offset` (HTTP GET: from 0) and then each chunk as it
  is written, until the log is closed; then the stream is closed with 1000. Each viewer reads
  the file on its own: a slow one falls behind and catches up from the file, never holding
  back the task or the other viewers, and the task never waits for any viewer.
- A shell viewer is handed to the run's shell host (shells.py).
- The secret in the URL is compared in constant time; a wrong one is 401. A run that ended
  is 410 for a while, so a viewer knows to read `public/logs/live_backing.log` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from aiohttp import WSMsgType, web

from clients.protocol.livelog import CLOSE_END_OF_LOG, LOG_HEADERS, relay_url, socket_url
from clients.protocol.relay import MAX_DATA
from clients.relay import Channel, ChannelClosedError
from clients.serving.site import ListenError, listen

from .errors import LiveListenError
from .tasklog import TaskLog

if TYPE_CHECKING:
    from .shells import ShellHost

__all__ = [
    "CLOSE_BAD_OFFSET",
    "LiveRun",
    "LiveService",
    "LiveUrls",
    "RefusedError",
    "Viewer",
    "direct_app",
    "direct_server",
    "new_secret",
]

logger = logging.getLogger("infrax.worker.livelog")
ENDED_REMEMBERED = 1000  # runs that ended and still answer 410 rather than 404
CLOSE_BAD_OFFSET = 4400


def new_secret() -> str:
    """An unguessable URL secret (192 bits)."""
    return secrets.token_urlsafe(24)


class RefusedError(Exception):
    """A viewer's request that is refused with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Viewer(Protocol):
    """One viewer's connection: a websocket (direct or relayed) or a chunked HTTP answer."""

    async def send(self, data: bytes) -> None: ...

    async def receive(self) -> bytes | None:
        """The next message from the viewer; None once it is gone."""
        ...

    async def close(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True)
class LiveUrls:
    """Where viewers reach this worker's streams: its own advertised address, else the queue's
    relay; neither (None) when the worker serves no live streams."""

    direct: str | None = None  # http(s)://host:port
    relay_root: str | None = None  # the queue's rootUrl, when the relay connection is kept

    def log(self, task_id: str, run_id: int, secret: str) -> str | None:
        if self.direct:
            return f"{self.direct}/log/{task_id}/{run_id}/{secret}"
        if self.relay_root:
            return relay_url(self.relay_root, "liveLog", task_id, run_id, secret)
        return None

    def shell(self, task_id: str, run_id: int, secret: str) -> str | None:
        """The websocket URL of the run's shell."""
        if self.direct:
            return socket_url(f"{self.direct}/shell/{task_id}/{run_id}/{secret}")
        if self.relay_root:
            return socket_url(relay_url(self.relay_root, "shell", task_id, run_id, secret))
        return None


@dataclass
class LiveRun:
    task_id: str
    run_id: int
    log: TaskLog
    log_secret: str = field(default_factory=new_secret)
    shell_secret: str | None = None
    shells: ShellHost | None = None
    viewers: int = 0


class LiveService:
    """The runs this worker serves live, and the viewers connected to them."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, int], LiveRun] = {}
        self._ended: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._sessions: set[asyncio.Task[None]] = set()

    @property
    def viewer_count(self) -> int:
        return sum(run.viewers for run in self._runs.values())

    @property
    def session_count(self) -> int:
        """Viewer connections being served (log and shell, direct and relayed)."""
        return len(self._sessions)

    def register(self, live: LiveRun) -> None:
        self._runs[live.task_id, live.run_id] = live

    def unregister(self, live: LiveRun) -> None:
        key = (live.task_id, live.run_id)
        if self._runs.get(key) is live:
            del self._runs[key]
            self._ended[key] = None
            while len(self._ended) > ENDED_REMEMBERED:
                self._ended.popitem(last=False)

    def find(
        self, kind: Literal["log", "shell"], task_id: str, run_id: int, secret: str
    ) -> LiveRun:
        """The run a viewer asks for, or RefusedError(404, 410, 401)."""
        live = self._runs.get((task_id, run_id))
        if live is None:
            if (task_id, run_id) in self._ended:
                raise RefusedError(
                    410,
                    f"run {run_id} of task {task_id} has ended: its log is the artifact"
                    " public/logs/live_backing.log",
                )
            raise RefusedError(404, f"run {run_id} of task {task_id} is not running on this worker")
        expected = live.log_secret if kind == "log" else live.shell_secret
        if expected is None:
            raise RefusedError(
                404,
                f"run {run_id} of task {task_id} has no interactive shell: its payload does not"
                " set features.interactive",
            )
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            raise RefusedError(
                401, f"wrong secret for the {kind} of run {run_id} of task {task_id}"
            )
        return live

    def admit(
        self, kind: Literal["log", "shell"], task_id: str, run_id: int, secret: str, socket: bool
    ) -> LiveRun:
        """The run a viewer may have, or RefusedError: as find(), and a shell needs a
        websocket and room for one more session."""
        live = self.find(kind, task_id, run_id, secret)
        if kind == "shell":
            if not socket:
                raise RefusedError(400, "the shell speaks websocket: send an Upgrade")
            assert live.shells is not None
            live.shells.check_room()
        return live

    async def serve_log(self, live: LiveRun, viewer: Viewer, offset: int, follow: bool) -> None:
        """Send the log from `offset` until it ends (or, not following, up to its size now)."""
        live.viewers += 1
        try:
            watching = asyncio.ensure_future(_until_gone(viewer))
            pumping = asyncio.ensure_future(_pump(live.log, viewer, offset, follow))
            try:
                await asyncio.wait((watching, pumping), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (watching, pumping):
                    task.cancel()
                    with contextlib.suppress(
                        asyncio.CancelledError, ChannelClosedError, ConnectionError
                    ):
                        await task
            if pumping.done() and not pumping.cancelled() and pumping.exception() is None:
                code, reason = pumping.result()
                with contextlib.suppress(ChannelClosedError, ConnectionError):
                    await viewer.close(code, reason)
        finally:
            live.viewers -= 1

    async def serve(
        self,
        kind: Literal["log", "shell"],
        live: LiveRun,
        viewer: Viewer,
        offset: int,
        follow: bool,
    ) -> None:
        if kind == "log":
            await self.serve_log(live, viewer, offset, follow)
            return
        assert live.shells is not None
        await live.shells.attach(viewer)

    async def tracked(self, work: Awaitable[None]) -> None:
        """Run a viewer's session, counted until it ends whatever way it ends."""
        task = asyncio.ensure_future(work)
        self._sessions.add(task)
        try:
            await task
        finally:
            self._sessions.discard(task)

    async def on_channel(self, channel: Channel) -> None:
        """A stream a viewer opened through the relay (relay.py)."""
        await self.tracked(self._relayed(channel))

    async def _relayed(self, channel: Channel) -> None:
        request = channel.request
        assert request is not None
        try:
            try:
                live = self.admit(
                    request.kind, request.task_id, request.run_id, request.secret, request.websocket
                )
            except RefusedError as refusal:
                await channel.refuse(refusal.status, refusal.message)
                return
            await channel.accept()
            await self.serve(request.kind, live, channel, request.offset, request.follow)
        except ChannelClosedError:
            pass
        finally:
            await channel.close()


async def _until_gone(viewer: Viewer) -> None:
    while await viewer.receive() is not None:
        pass  # a log viewer has nothing to say; its messages are read and dropped


async def _pump(log: TaskLog, viewer: Viewer, offset: int, follow: bool) -> tuple[int, str]:
    """The close code and reason once every byte wanted was sent."""
    end = None if follow else log.size
    if log.closed and offset > log.size:
        return CLOSE_BAD_OFFSET, f"offset {offset} is beyond the end of the log ({log.size} bytes)"
    if end is not None and offset >= end:
        return CLOSE_END_OF_LOG, "the log so far"
    position = offset
    async for chunk in log.follow(offset):
        if end is not None and position + len(chunk) >= end:
            await viewer.send(chunk[: end - position])
            return CLOSE_END_OF_LOG, "the log so far"
        await viewer.send(chunk)
        position += len(chunk)
    return CLOSE_END_OF_LOG, "end of log"


# -- the worker's own HTTP server ---------------------------------------------------------------


class _SocketViewer:
    def __init__(self, socket: web.WebSocketResponse) -> None:
        self.socket = socket

    async def send(self, data: bytes) -> None:
        await self.socket.send_bytes(data)

    async def receive(self) -> bytes | None:
        message = await self.socket.receive()
        if message.type is WSMsgType.BINARY:
            return bytes(message.data)
        if message.type is WSMsgType.TEXT:
            return str(message.data).encode()
        return None

    async def close(self, code: int, reason: str) -> None:
        await self.socket.close(code=code, message=reason.encode()[:123])


class _ResponseViewer:
    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response

    async def send(self, data: bytes) -> None:
        await self.response.write(data)

    async def receive(self) -> bytes | None:
        await asyncio.Event().wait()  # a GET says nothing; a viewer leaving cancels the handler
        return None

    async def close(self, code: int, reason: str) -> None:
        await self.response.write_eof()


def _request(request: web.Request) -> tuple[Literal["log", "shell"], int, int, bool]:
    """kind, runId, offset and follow of a viewer's request; RefusedError(400) when bad."""
    kind: Literal["log", "shell"] = "log" if request.match_info["kind"] == "log" else "shell"
    try:
        run_id = int(request.match_info["runId"])
        offset = int(request.query.get("offset", "0"))
    except ValueError:
        run_id = offset = -1
    if run_id < 0 or offset < 0:
        raise RefusedError(400, "runId and offset are non-negative integers")
    return kind, run_id, offset, request.query.get("follow", "true") != "false"


def direct_app(service: LiveService) -> web.Application:
    """`GET /log/<taskId>/<runId>/<secret>` (chunked, or a websocket with `?offset=`) and
    `GET /shell/<taskId>/<runId>/<secret>` (websocket)."""

    async def serve(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_DATA)
        upgrade = socket.can_prepare(request).ok
        try:
            kind, run_id, offset, follow = _request(request)
            task_id, secret = request.match_info["taskId"], request.match_info["secret"]
            live = service.admit(kind, task_id, run_id, secret, upgrade)
        except RefusedError as refusal:
            return web.Response(status=refusal.status, text=refusal.message + "\n")
        if upgrade:
            await socket.prepare(request)
            await service.tracked(service.serve(kind, live, _SocketViewer(socket), offset, follow))
            return socket
        response = web.StreamResponse(headers=LOG_HEADERS)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await service.tracked(service.serve_log(live, _ResponseViewer(response), offset, follow))
        return response

    app = web.Application()
    app.router.add_get("/{kind:log|shell}/{taskId}/{runId}/{secret}", serve)
    return app


@contextlib.asynccontextmanager
async def direct_server(
    service: LiveService, host: str, port: int
) -> AsyncIterator[tuple[str, int]]:
    """The worker's own live-log server; yields the (host, port) it listens on."""
    runner = web.AppRunner(direct_app(service), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await listen(site, host, port)
    except ListenError as error:
        await runner.cleanup()
        raise LiveListenError(
            f"{error}; give --live-listen (INFRAX_WORKER_LIVE_LISTEN) another address"
        ) from None
    address = runner.addresses[0]
    try:
        yield str(address[0]), int(address[1])
    finally:
        await runner.cleanup()
