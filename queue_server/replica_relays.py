"""The relay across queue replicas (protocol.md §18.3, "Several replicas"): a `RelayRouter`
for replicas sharing one PostgreSQL database.

- A worker's relay connection lands on whichever replica the load balancer picked. That
  replica keeps it in its `LocalRelays` and records in the store that it holds it (its random
  replica id, the URL the other replicas reach it at, a connection id); the record is deleted
  when the connection ends, only if it is still that connection's, so a newer connection of
  the worker, on this replica or another, is never unrecorded by an older one ending. A
  record taken over from another replica has that replica asked to close the older
  connection with 4000, as one replica closes a replaced connection.
- A viewer's stream opened on any replica looks the holder up: this replica opens it on its
  own connection; another one is asked over a websocket to its peer route, signed with the
  replicas' shared secret (core/relay_peers.py), and the stream is proxied from there
  (`PeerStream`): one websocket per stream, so back-pressure is TCP's on that hop (the
  holder reads the worker's stream only as fast as the hop takes it, and credits the worker
  only for what it passed on), and either end closing closes the other.
- A stale record (its replica was killed, or restarted as another replica) is found at once:
  its address refuses the connection, or the replica there answers that it does not hold the
  worker. The viewer is answered `503 WorkerUnavailable` saying so, and the record is deleted
  (only if unchanged). A holder that does not answer at all is given up after PEER_CONNECT_S.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import aiohttp

from clients.protocol.relay import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_REPLACED,
    MAX_DATA,
    OpenStream,
    RelayProtocolError,
)
from clients.relay import ChannelClosedError, Mux, RelayLostError, StreamRefusedError

from .core.relay_peers import PeerAnswer, PeerSigner, decode_answer, open_detail, peer_path
from .relays import LocalRelays, Stream, WorkerKey, WorkerNotConnectedError
from .store.base import Store
from .store.relay_holders import RelayHolder

__all__ = ["PeerStream", "ReplicaRelays"]

log = logging.getLogger("infrax.queue.relay")

PEER_CONNECT_S = 5.0  # a holder that has not taken the websocket by then is given up
PEER_ANSWER_S = 30.0  # the worker's ACCEPT or REFUSE, through the holder
PEER_CLOSE_S = 5.0  # waiting for the other end's CLOSE when closing
HEARTBEAT_S = 30.0  # pings find a holder (or a caller) gone without a word
# Close codes a websocket may carry on the wire (RFC 6455 §7.4): 1005, 1006 and 1015 never do.
_UNSENDABLE = frozenset({1004, 1005, 1006, 1015})


def _now_ms() -> int:
    return int(time.time() * 1000)


class PeerStream:
    """A stream to a worker whose relay connection another replica holds, over a websocket
    to that replica (a `Stream`)."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, holder_url: str) -> None:
        self._socket = socket
        self._holder_url = holder_url
        self._peer_closed: tuple[int, str] | None = None

    @property
    def peer_closed(self) -> tuple[int, str] | None:
        return self._peer_closed

    async def send(self, data: bytes) -> None:
        if self._peer_closed is not None or self._socket.closed:
            raise ChannelClosedError("the stream is closed")
        try:
            await self._socket.send_bytes(data)
        except ConnectionError as error:
            raise ChannelClosedError(f"the stream is closed: {error}") from error

    async def receive(self) -> bytes | None:
        while self._peer_closed is None:
            message = await self._socket.receive()
            if message.type is aiohttp.WSMsgType.BINARY:
                return bytes(message.data)
            if message.type is aiohttp.WSMsgType.TEXT:
                continue  # the holder sends no text after its answer
            code = self._socket.close_code
            if message.type is aiohttp.WSMsgType.CLOSE and code and code not in _UNSENDABLE:
                self._peer_closed = (code, str(message.extra or ""))
            else:  # the holder went away without closing
                reason = f"the replica holding the relay connection ({self._holder_url}) is gone"
                self._peer_closed = (CLOSE_GOING_AWAY, reason)
        return None

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        await self._socket.close(code=code, message=reason.encode()[:123])


class ReplicaRelays:
    """Workers' relay connections across the replicas on one database (`RelayRouter`)."""

    def __init__(self, store: Store, signer: PeerSigner) -> None:
        self.local = LocalRelays()
        self.replica_id = secrets.token_hex(8)
        self.url: str | None = None  # where the other replicas reach this one
        self._store = store
        self._signer = signer
        self._session: aiohttp.ClientSession | None = None
        self._holding: dict[WorkerKey, str] = {}  # the connection id of each attached here
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=PEER_CONNECT_S)
        self._session = aiohttp.ClientSession(timeout=timeout)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Forget whatever this replica still holds (its connections have ended by now)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        try:
            await self._store.forget_relay_replica(self.replica_id)
        except Exception:
            log.exception("relay_unrecorded_failed", extra={"reason": "shutting down"})

    def reachable_at(self, url: str) -> None:
        self.url = url.rstrip("/")

    def connected(self) -> int:
        return self.local.connected()

    def close_all(self, code: int, reason: str) -> None:
        self.local.close_all(code, reason)

    @asynccontextmanager
    async def attached(self, worker: WorkerKey, mux: Mux) -> AsyncIterator[None]:
        if self.url is None:
            raise RuntimeError("the server is not listening yet: no address to record")
        holder = RelayHolder(self.replica_id, self.url, secrets.token_hex(8))
        async with self.local.attached(worker, mux):
            self._holding[worker] = holder.connection_id
            try:
                replaced = await self._store.record_relay_holder(
                    worker.worker_group, worker.worker_id, holder, _now_ms()
                )
                if replaced is not None and replaced.replica_id != self.replica_id:
                    self._spawn(self._release(replaced, worker))
                yield
            finally:
                if self._holding.get(worker) == holder.connection_id:
                    del self._holding[worker]
                await self._forget(worker, holder)

    def release_here(self, worker: WorkerKey, holder_id: str, connection_id: str) -> bool:
        """Another replica took over the worker's record: close the older connection held
        here (as LocalRelays closes a replaced one); whether it was here."""
        if holder_id != self.replica_id or self._holding.get(worker) != connection_id:
            return False
        return self.local.replace(worker, CLOSE_REPLACED, "the worker connected again elsewhere")

    async def _release(self, replaced: RelayHolder, worker: WorkerKey) -> None:
        """Best effort: a holder that does not answer has lost the connection, or will find
        it dead at its next heartbeat."""
        assert self._session is not None
        group, worker_id = worker.worker_group, worker.worker_id
        headers = self._signer.headers(
            "DELETE", group, worker_id, replaced.replica_id, replaced.connection_id, _now_ms()
        )
        url = replaced.replica_url + peer_path(group, worker_id)
        try:
            async with (
                asyncio.timeout(PEER_CONNECT_S),
                self._session.delete(url, headers=headers) as response,
            ):
                await response.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            log.info("relay_release_failed", extra={"worker_id": worker_id, "reason": str(error)})

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forget(self, worker: WorkerKey, holder: RelayHolder) -> None:
        try:
            await self._store.forget_relay_holder(
                worker.worker_group, worker.worker_id, holder.connection_id
            )
        except Exception:  # the record stays; it is found stale and replaced or deleted
            log.exception("relay_unrecorded_failed", extra={"worker_id": worker.worker_id})

    async def open(self, worker: WorkerKey, request: OpenStream) -> Stream:
        if worker in self._holding:
            # Held here: no need to ask the store, whose record of this connection may not be
            # written yet (the worker sees its websocket accepted before the record is made).
            return await self.local.open(worker, request)
        holder = await self._store.relay_holder(worker.worker_group, worker.worker_id)
        if holder is None:
            raise WorkerNotConnectedError(
                f"worker {worker.worker_group}/{worker.worker_id} is not connected to the relay"
            )
        if holder.replica_id == self.replica_id:
            return await self.local.open(worker, request)
        return await self._through(holder, worker, request)

    async def open_here(self, worker: WorkerKey, request: OpenStream, holder_id: str) -> Stream:
        """A stream another replica asks for, on this replica's connection of the worker."""
        if holder_id != self.replica_id:
            raise WorkerNotConnectedError(
                f"the replica at {self.url} is not the one recorded as holding worker"
                f" {worker.worker_group}/{worker.worker_id}'s relay connection: it restarted"
            )
        return await self.local.open(worker, request)

    async def _through(self, holder: RelayHolder, worker: WorkerKey, request: OpenStream) -> Stream:
        socket = await self._connect(holder, worker, request)
        try:
            answer = await self._answer(socket, holder)
        except BaseException:
            await socket.close(code=CLOSE_GOING_AWAY)
            raise
        if answer.outcome == "accepted":
            return PeerStream(socket, holder.replica_url)
        await socket.close()
        if answer.outcome == "refused":
            raise StreamRefusedError(answer.status, answer.message)
        await self._forget(worker, holder)
        raise WorkerNotConnectedError(answer.message)

    async def _answer(
        self, socket: aiohttp.ClientWebSocketResponse, holder: RelayHolder
    ) -> PeerAnswer:
        where = f"the replica holding the relay connection ({holder.replica_url})"
        try:
            async with asyncio.timeout(PEER_ANSWER_S):
                message = await socket.receive()
        except TimeoutError:
            raise RelayLostError(
                f"{where} did not pass the worker's answer on within {PEER_ANSWER_S:g} s"
            ) from None
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise RelayLostError(f"{where} ended the stream before the worker answered")
        try:
            return decode_answer(str(message.data))
        except RelayProtocolError as error:
            raise RelayLostError(str(error)) from None

    async def _connect(
        self, holder: RelayHolder, worker: WorkerKey, request: OpenStream
    ) -> aiohttp.ClientWebSocketResponse:
        assert self._session is not None, "use `async with` first"
        group, worker_id = worker.worker_group, worker.worker_id
        url = holder.replica_url + peer_path(group, worker_id)
        headers = self._signer.headers(
            "GET", group, worker_id, holder.replica_id, open_detail(request), _now_ms()
        )
        where = f"the replica holding worker {group}/{worker_id}'s relay connection ({url})"
        try:
            async with asyncio.timeout(PEER_CONNECT_S):
                return await self._session.ws_connect(
                    url,
                    headers=headers,
                    heartbeat=HEARTBEAT_S,
                    max_msg_size=MAX_DATA + 64,
                    timeout=aiohttp.ClientWSTimeout(ws_close=PEER_CLOSE_S),
                )
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, ConnectionRefusedError):
                await self._forget(worker, holder)  # nothing listens there: the record is stale
            raise WorkerNotConnectedError(f"{where} is gone: {error.strerror}") from None
        except TimeoutError:
            raise WorkerNotConnectedError(
                f"{where} did not answer within {PEER_CONNECT_S:g} s"
            ) from None
        except aiohttp.WSServerHandshakeError as error:
            hint = " (do the replicas share INFRAX_SECRET_KEY?)" if error.status == 401 else ""
            raise WorkerNotConnectedError(
                f"{where} refused the replica-to-replica connection: {error.status}{hint}"
            ) from None
        except (aiohttp.ClientError, OSError) as error:
            raise WorkerNotConnectedError(f"{where} could not be reached: {error}") from None
