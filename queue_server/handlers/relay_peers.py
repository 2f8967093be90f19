"""The peer route of the relay across replicas (protocol.md §18.3, "Several replicas";
queue_server/replica_relays.py): another replica asks this one for a stream to a worker whose
relay connection this one holds, and the stream's bytes then pass over that websocket (GET); or, having taken over the worker's
record, asks this one to close the older connection it holds (DELETE).

Not an endpoint of the table, and not for clients: the signature made with the replicas'
shared secret (core/relay_peers.py) is its authority, not Hawk; without it the answer is 401.
"""

from __future__ import annotations

import time

from aiohttp import web

from clients.protocol.errors import ApiError, input_error
from clients.protocol.relay import CLOSE_GOING_AWAY, MAX_DATA, OpenStream
from clients.relay import ChannelClosedError, StreamRefusedError

from ..core.relay_peers import PEER_ROUTE, PeerAnswer, PeerRequest, encode_answer, opened
from ..dispatch import error_response
from ..keys import PEER_SIGNER, RELAYS
from ..relays import RelayRouter, Stream, WorkerKey, WorkerNotConnectedError
from ..replica_relays import ReplicaRelays
from .relay import HEARTBEAT_S, pipe

__all__ = ["add_relay_peer_routes"]

NAME = "relayPeer"


def add_relay_peer_routes(app: web.Application) -> None:
    app.router.add_get(PEER_ROUTE, _relay_peer)
    app.router.add_delete(PEER_ROUTE, _release)


async def _release(request: web.Request) -> web.StreamResponse:
    """Another replica took over the worker's record: close the older connection here."""
    params = dict(request.match_info)
    worker = WorkerKey(params["workerGroup"], params["workerId"])
    try:
        peer = _verified(request, worker)
    except ApiError as error:
        return error_response(request, error, params, NAME)
    router = request.app[RELAYS]
    if isinstance(router, ReplicaRelays):
        router.release_here(worker, peer.holder_id, peer.detail)
    return web.Response(status=204)


def _verified(request: web.Request, worker: WorkerKey) -> PeerRequest:
    now_ms = int(time.time() * 1000)
    signer = request.app[PEER_SIGNER]
    return signer.verify(
        request.method, worker.worker_group, worker.worker_id, request.headers, now_ms
    )


async def _relay_peer(request: web.Request) -> web.StreamResponse:
    params = dict(request.match_info)
    worker = WorkerKey(params["workerGroup"], params["workerId"])
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_DATA)
    try:
        peer = _verified(request, worker)
        opening = opened(peer.detail)
        if not socket.can_prepare(request).ok:
            raise input_error("this route speaks websocket: send an Upgrade")
    except ApiError as error:
        return error_response(request, error, params, NAME)
    await socket.prepare(request)
    try:
        stream = await _open(request.app[RELAYS], worker, opening, peer.holder_id)
    except _UnopenedError as unopened:
        await socket.send_str(encode_answer(unopened.answer))
        await socket.close()
        return socket
    try:
        await socket.send_str(encode_answer(PeerAnswer("accepted")))
    except BaseException:  # the asking replica is gone already
        await stream.close(CLOSE_GOING_AWAY, "the viewer left")
        raise
    await pipe(stream, socket)
    return socket


class _UnopenedError(Exception):
    def __init__(self, answer: PeerAnswer) -> None:
        super().__init__(answer.message)
        self.answer = answer


async def _open(
    router: RelayRouter, worker: WorkerKey, request: OpenStream, holder_id: str
) -> Stream:
    try:
        if not isinstance(router, ReplicaRelays):
            raise WorkerNotConnectedError("this queue runs alone: it has no other replicas")
        return await router.open_here(worker, request, holder_id)
    except WorkerNotConnectedError as error:
        raise _UnopenedError(PeerAnswer("absent", 503, str(error))) from None
    except StreamRefusedError as refused:
        raise _UnopenedError(PeerAnswer("refused", refused.status, refused.message)) from None
    except ChannelClosedError as error:
        message = f"the relay connection ended: {error}"
        raise _UnopenedError(PeerAnswer("refused", 503, message)) from None
