"""Many streams over one websocket: the relay between a worker and the queue (protocol.md,
"Live logs, shells and the relay"; the frames are in clients/protocol/relay.py).

Both ends run a `Mux` over their side of the websocket. The queue's `open()` asks the worker
for a stream and waits for its ACCEPT or REFUSE; the worker's `handler` receives each opened
`Channel`, accepts or refuses it, and closes it when done. A channel's `send()` waits for credit, `receive()` hands
out one DATA payload at a time and credits it back, so what one stream buffers is bounded by
its window and a stream whose reader stalls never holds back another. A frame that breaks the
protocol on a stream closes that stream only. When the websocket ends, every channel ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp

from ..protocol.relay import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_PROTOCOL,
    DEFAULT_WINDOW,
    MAX_DATA,
    MAX_STREAM_ID,
    Accept,
    Frame,
    FrameType,
    OpenStream,
    ReceiveWindow,
    Refuse,
    RelayProtocolError,
    SendWindow,
    credit_frame,
    decode_close,
    decode_frame,
    decode_json,
    encode_close,
    encode_frame,
    encode_json,
)

__all__ = ["Channel", "ChannelClosedError", "Mux", "RelayLostError", "Socket", "StreamRefusedError"]

log = logging.getLogger("infrax.relay")


class Socket(Protocol):
    """Either end of an aiohttp websocket."""

    async def send_bytes(self, data: bytes) -> None: ...

    async def receive(self) -> aiohttp.WSMessage: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


class StreamRefusedError(Exception):
    """The worker refused to open the stream; `status` is what the viewer is answered."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ChannelClosedError(Exception):
    """The stream is closed: nothing more can be sent on it."""


class RelayLostError(ChannelClosedError):
    """The relay connection is gone (or ended before the worker answered)."""


class Channel:
    """One stream of a relay connection."""

    def __init__(self, mux: Mux, stream_id: int, receive_window: int) -> None:
        self.mux = mux
        self.id = stream_id
        self.request: OpenStream | None = None  # the worker's side: what was asked
        self.peer_closed: tuple[int, str] | None = None
        self.closed = False  # this end sent CLOSE (or REFUSE)
        self._send_window = SendWindow(0)
        self._receive_window = ReceiveWindow(receive_window)
        self._inbox: deque[bytes] = deque()
        self._changed = asyncio.Event()
        self._answer: asyncio.Future[Accept | Refuse] = asyncio.get_running_loop().create_future()

    @property
    def ended(self) -> bool:
        return self.closed or self.peer_closed is not None

    async def accept(self, window: int = DEFAULT_WINDOW) -> None:
        assert self.request is not None, "only the worker's end accepts"
        self._send_window.grant(self.request.window)
        self._receive_window = ReceiveWindow(window)
        await self.mux.send(
            encode_frame(FrameType.ACCEPT, self.id, encode_json(Accept(window=window)))
        )

    async def refuse(self, status: int, message: str) -> None:
        self.closed = True
        self.mux.forget(self)
        body = encode_json(Refuse(status=status, message=message))
        await self.mux.send(encode_frame(FrameType.REFUSE, self.id, body))

    async def send(self, data: bytes) -> None:
        """Send `data` (split at MAX_DATA), waiting for credit; ChannelClosedError once closed."""
        for start in range(0, max(len(data), 1), MAX_DATA):
            piece = data[start : start + MAX_DATA]
            while not self._send_window.spend(len(piece)):
                self._check_open()
                self._changed.clear()
                await self._changed.wait()
            self._check_open()
            await self.mux.send(encode_frame(FrameType.DATA, self.id, piece))

    def _check_open(self) -> None:
        if self.ended:
            raise ChannelClosedError(f"stream {self.id} is closed")

    async def receive(self) -> bytes | None:
        """The next DATA payload, or None once the peer closed and everything was read."""
        while not self._inbox:
            if self.ended:
                return None
            self._changed.clear()
            await self._changed.wait()
        data = self._inbox.popleft()
        credit = self._receive_window.consumed(len(data))
        if credit and not self.ended:
            await self.mux.send(credit_frame(self.id, credit))
        return data

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Close this end (harmless twice); the peer answers with its own CLOSE."""
        if self.closed:
            return
        self.closed = True
        self._changed.set()
        if self.peer_closed is not None:
            self.mux.forget(self)
        with contextlib.suppress(RelayLostError):
            await self.mux.send(encode_frame(FrameType.CLOSE, self.id, encode_close(code, reason)))

    # -- frames from the peer ---------------------------------------------------------------

    def on_answer(self, answer: Accept | Refuse) -> None:
        if self._answer.done():
            raise RelayProtocolError("the stream was answered twice")
        if isinstance(answer, Accept):
            self._send_window.grant(answer.window)
        self._answer.set_result(answer)

    async def answer(self) -> Accept | Refuse:
        return await self._answer

    def on_data(self, data: bytes) -> None:
        if self.closed:
            return  # in flight when this end closed
        if len(data) > MAX_DATA:
            raise RelayProtocolError(f"a DATA frame carries at most {MAX_DATA} bytes")
        self._receive_window.received(len(data))
        self._inbox.append(data)
        self._changed.set()

    def on_credit(self, amount: int) -> None:
        self._send_window.grant(amount)
        self._changed.set()

    def on_close(self, code: int, reason: str) -> None:
        self.peer_closed = (code, reason)
        self._changed.set()
        if not self._answer.done():
            self._answer.set_exception(RelayLostError(reason or "the stream was closed"))
            self._answer.exception()  # retrieved: nobody may be waiting for it


Handler = Callable[[Channel], Awaitable[None]]


class Mux:
    """One end of a relay connection."""

    def __init__(self, socket: Socket, handler: Handler | None = None) -> None:
        self.socket = socket
        self._handler = handler
        self._channels: dict[int, Channel] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.lost = False

    @property
    def stream_count(self) -> int:
        return len(self._channels)

    async def send(self, frame: bytes) -> None:
        if self.lost:
            raise RelayLostError("the relay connection is closed")
        async with self._lock:
            try:
                await self.socket.send_bytes(frame)
            except ConnectionError as error:
                self.lost = True
                raise RelayLostError(f"the relay connection is closed: {error}") from error

    def shut(self, code: int, reason: str) -> None:
        """Close the websocket from outside its reader; run() then ends every stream."""
        self.lost = True

        async def close() -> None:
            await self.socket.close(code=code, message=reason.encode())

        self._spawn(close())

    def forget(self, channel: Channel) -> None:
        self._channels.pop(channel.id, None)

    async def open(self, request: OpenStream) -> Channel:
        """A stream to the worker; StreamRefusedError with its status, or RelayLostError."""
        stream_id = next(self._ids)
        if stream_id > MAX_STREAM_ID:
            raise RelayLostError("this relay connection has used up its stream ids")
        channel = Channel(self, stream_id, request.window)
        self._channels[stream_id] = channel
        try:
            await self.send(encode_frame(FrameType.OPEN, stream_id, encode_json(request)))
            answer = await channel.answer()
        except BaseException:
            await channel.close(CLOSE_GOING_AWAY, "the viewer left")
            raise
        if isinstance(answer, Refuse):
            self.forget(channel)
            channel.closed = True
            raise StreamRefusedError(answer.status, answer.message)
        return channel

    async def run(self) -> None:
        """Read frames until the websocket ends; then every stream ends."""
        try:
            while True:
                message = await self.socket.receive()
                if message.type is aiohttp.WSMsgType.BINARY:
                    await self._dispatch(message.data)
                elif message.type is not aiohttp.WSMsgType.TEXT:
                    return  # CLOSE, CLOSING, CLOSED or ERROR
        finally:
            self.lost = True
            for channel in list(self._channels.values()):
                channel.on_close(CLOSE_GOING_AWAY, "the relay connection was lost")
            self._channels.clear()
            for task in list(self._tasks):
                task.cancel()

    async def _dispatch(self, data: bytes) -> None:
        try:
            frame = decode_frame(data)
        except RelayProtocolError as error:
            log.warning("relay_frame_dropped", extra={"reason": str(error)})
            return
        if frame.type is FrameType.OPEN:
            await self._opened(frame)
            return
        channel = self._channels.get(frame.stream)
        if channel is None:
            return  # a stream already forgotten: frames in flight when it closed
        try:
            self._apply(channel, frame)
        except RelayProtocolError as error:
            log.warning("relay_stream_broken", extra={"reason": str(error)})
            channel.on_close(CLOSE_PROTOCOL, str(error))
            await channel.close(CLOSE_PROTOCOL, str(error))

    def _apply(self, channel: Channel, frame: Frame) -> None:
        if frame.type is FrameType.ACCEPT:
            channel.on_answer(decode_json(frame.payload, Accept))
        elif frame.type is FrameType.REFUSE:
            channel.on_answer(decode_json(frame.payload, Refuse))
        elif frame.type is FrameType.DATA:
            channel.on_data(frame.payload)
        elif frame.type is FrameType.CREDIT:
            channel.on_credit(frame.credit)
        elif frame.type is FrameType.CLOSE:
            channel.on_close(*decode_close(frame.payload))
            if channel.closed:
                self.forget(channel)
            else:  # answer with our own CLOSE, as a websocket does
                self._spawn(channel.close(*decode_close(frame.payload)))

    async def _opened(self, frame: Frame) -> None:
        if self._handler is None or frame.stream in self._channels:
            log.warning("relay_open_refused", extra={"reason": "unexpected OPEN"})
            return
        try:
            request = decode_json(frame.payload, OpenStream)
        except RelayProtocolError as error:
            refusal = encode_json(Refuse(status=400, message=str(error)))
            await self.send(encode_frame(FrameType.REFUSE, frame.stream, refusal))
            return
        channel = Channel(self, frame.stream, DEFAULT_WINDOW)
        channel.request = request
        self._channels[frame.stream] = channel
        self._spawn(self._handle(channel))

    async def _handle(self, channel: Channel) -> None:
        assert self._handler is not None
        await self._handler(channel)  # it owns the channel from now on, and closes it

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
