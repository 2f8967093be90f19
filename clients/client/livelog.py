"""Live logs, shells and the worker's relay connection, from the client's side (protocol.md
§18).

::

    async with LogStream(session, url, offset=0) as log:   # a live.log reference's URL
        async for chunk in log:
            sys.stdout.buffer.write(chunk)
    log.complete  # True when the worker closed it at the end of the log

    async with ShellSession(session, socket_url) as shell:
        await shell.resize(24, 80)
        await shell.send(b"ls\\n")
        async for output in shell:
            ...

A worker uses ``RelayConnection`` (``queue.relay(group, id)``) to accept the streams viewers
open through the queue.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import urllib.parse
from types import TracebackType
from typing import Self

import aiohttp
import yarl

from ..protocol.livelog import CLOSE_END_OF_LOG, resize_frame, socket_url, stdin_frame
from ..relay import Channel, Mux
from .errors import ClientError, TransportError, error_from_answer
from .service import ServiceClient

__all__ = ["LogStream", "RelayConnection", "ShellSession", "StreamSocket"]

HEARTBEAT_S = 30.0


async def _refusal(session: aiohttp.ClientSession, url: str) -> bytes:
    """Why the server refused a websocket: the same request again, as a plain request with
    the Upgrade headers, whose error body a websocket client never shows."""
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    http_url = "http" + url.removeprefix("ws") if url.startswith("ws") else url
    try:
        async with session.get(yarl.URL(http_url, encoded=True), headers=headers) as response:
            if response.status == 101:
                return b"the server refused the websocket, then accepted it"
            return await response.content.read(64 * 1024)
    except (OSError, aiohttp.ClientError) as error:
        return f"the server refused the websocket ({error})".encode()


class StreamSocket:
    """A websocket to a live-log or shell URL (the worker's own, or the queue's relay)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, what: str) -> None:
        self._session = session
        self.url = socket_url(url)
        self.what = what
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    async def __aenter__(self) -> Self:
        try:
            self.socket = await self._session.ws_connect(
                yarl.URL(self.url, encoded=True), heartbeat=HEARTBEAT_S, max_msg_size=0
            )
        except aiohttp.WSServerHandshakeError as error:
            detail = await _refusal(self._session, self.url)
            raise error_from_answer(self.what, error.status, detail) from None
        except (OSError, aiohttp.ClientError) as error:
            raise TransportError(self.what, 1, error) from error
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        assert self.socket is not None, "use `async with` first"
        message = await self.socket.receive()
        if message.type is aiohttp.WSMsgType.BINARY:
            return bytes(message.data)
        if message.type is aiohttp.WSMsgType.TEXT:
            return str(message.data).encode()
        self.close_code = self.socket.close_code
        self.close_reason = (
            str(message.extra or "") if message.type is aiohttp.WSMsgType.CLOSE else ""
        )
        raise StopAsyncIteration


class LogStream(StreamSocket):
    """A live log from `offset` on, following until the worker ends it (or, with
    ``follow=False``, the bytes written so far)."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, *, offset: int = 0, follow: bool = True
    ) -> None:
        query = {"offset": str(offset)} | ({} if follow else {"follow": "false"})
        separator = "&" if "?" in url else "?"
        super().__init__(session, f"{url}{separator}{urllib.parse.urlencode(query)}", "liveLog")
        self.offset = offset

    async def __anext__(self) -> bytes:
        chunk = await super().__anext__()
        self.offset += len(chunk)
        return chunk

    @property
    def complete(self) -> bool:
        """Whether the worker closed the stream because the log is complete."""
        return self.close_code == CLOSE_END_OF_LOG


class ShellSession(StreamSocket):
    """An interactive shell (generic-worker v2 frames); iterate it for the terminal's output."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        super().__init__(session, url, "shell")

    async def send(self, data: bytes) -> None:
        """Keystrokes for the terminal."""
        assert self.socket is not None
        await self.socket.send_bytes(stdin_frame(data))

    async def resize(self, rows: int, cols: int) -> None:
        assert self.socket is not None
        await self.socket.send_bytes(resize_frame(rows, cols))


class RelayConnection:
    """A worker's relay connection: ``async with`` connects (Hawk-signed), iteration yields
    each stream a viewer opens, until the connection ends. The consumer accepts or refuses
    each channel and closes it."""

    def __init__(self, client: ServiceClient, worker_group: str, worker_id: str) -> None:
        self._client = client
        self._params = {"workerGroup": worker_group, "workerId": worker_id}
        self._opened: asyncio.Queue[Channel | None] = asyncio.Queue()
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self.mux: Mux | None = None

    async def __aenter__(self) -> Self:
        url = self._client.url("relay", self._params)
        headers = self._client.signed_headers("GET", url, content_type="")
        try:
            self._socket = await self._client.session().ws_connect(
                yarl.URL(url, encoded=True), headers=headers, heartbeat=HEARTBEAT_S
            )
        except aiohttp.WSServerHandshakeError as error:
            detail = f"the server refused the relay connection: {error.status} {error.message}"
            raise error_from_answer("relay", error.status, detail.encode()) from None
        except (OSError, aiohttp.ClientError) as error:
            raise TransportError("relay", 1, error) from error
        self.mux = Mux(self._socket, self._opened.put)
        self._reader = asyncio.create_task(self._read(self.mux))
        return self

    async def _read(self, mux: Mux) -> None:
        try:
            await mux.run()
        finally:
            self._opened.put_nowait(None)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Channel:
        if self._socket is None:
            raise ClientError("the relay connection is not open")
        channel = await self._opened.get()
        if channel is None:
            self._opened.put_nowait(None)  # every later call ends too
            raise StopAsyncIteration
        return channel
