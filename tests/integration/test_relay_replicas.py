"""The relay across queue replicas on one PostgreSQL schema (protocol.md §18.3, "Several
replicas"): a worker's relay connection held by one replica, viewers' live logs and shells
opened through the others, proxied replica to replica.

The worker's end is the real client (`Queue.relay`, a real Mux) driven by the test, so the
test decides what the worker sends and when it closes; the replicas are real servers on
127.0.0.1 (in this process, or `infrax queue` processes where one is killed with SIGKILL).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.server import Secrets, running_queue
from clients import hawk
from clients.client import (
    AuthenticationFailed,
    Options,
    Queue,
    ServerError,
    ShellSession,
)
from clients.protocol.ids import new_slugid
from clients.protocol.livelog import stdin_frame
from clients.protocol.relay import CLOSE_REPLACED, MAX_DATA, OpenStream
from clients.relay import Channel
from queue_server.core.relay_peers import PeerSigner, open_detail, peer_path
from queue_server.keys import RELAYS, STORE
from queue_server.store.relay_holders import RelayHolder
from tests import helpers
from tests.conftest import ROOT_TOKEN, RunningQueue, queue_settings, start_queue, stop_queue
from tests.postgres import postgres_schema

pytestmark = pytest.mark.postgres

SECRET_KEY = "5e" * 32
GROUP = "relay-group"
QUEUE_ID = "relay/replicas"
SECRET = "s" * 32
WAIT_S = 30.0  # bounds a hang; everything here happens in milliseconds
TOTAL_BYTES = 64 * 1024 * 1024  # far more than the window and the sockets can hold
STALL_S = 0.5  # no progress for this long: the worker is held back


@dataclass
class Replica:
    root_url: str
    running: RunningQueue | None = None  # in this process (None: its own process)

    def client(self) -> Queue:
        return Queue(Options(self.root_url, hawk.Credentials("root", ROOT_TOKEN)))

    def call(self, coroutine: object) -> object:
        assert self.running is not None
        return self.running.call(coroutine)

    def holder(self, worker_id: str) -> RelayHolder | None:
        assert self.running is not None
        store = self.running.runner.app[STORE]
        found = self.call(store.relay_holder(GROUP, worker_id))
        assert found is None or isinstance(found, RelayHolder)
        return found


@pytest.fixture
def database() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@pytest.fixture
def replicas(tmp_path: Path, database: str) -> Iterator[list[Replica]]:
    started: list[tuple[RunningQueue, object]] = []
    try:
        for name in "abc":
            settings = queue_settings(tmp_path / name, database, secret_key=SECRET_KEY)
            started.append(start_queue(settings))
        yield [Replica(running.root_url, running) for running, _ in started]
    finally:
        for running, thread in started:
            stop_queue(running, thread)  # type: ignore[arg-type]


@dataclass
class Worker:
    """A worker's end of the relay: refuses a wrong secret, accepts the rest and hands each
    accepted stream to the test."""

    worker_id: str
    streams: asyncio.Queue[Channel] = field(default_factory=asyncio.Queue)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    closed_with: int | None = None  # the close code of the connection, once the queue closed it

    async def serve(self, replica: Replica) -> None:
        async with replica.client() as queue, queue.relay(GROUP, self.worker_id) as connection:
            self.connected.set()
            async for channel in connection:
                assert channel.request is not None
                if channel.request.secret != SECRET:
                    await channel.refuse(401, "wrong secret")
                    continue
                await channel.accept()
                await self.streams.put(channel)
            assert connection.mux is not None
            socket = connection.mux.socket
            assert isinstance(socket, aiohttp.ClientWebSocketResponse)
            self.closed_with = socket.close_code

    async def next_stream(self) -> Channel:
        return await asyncio.wait_for(self.streams.get(), WAIT_S)


@asynccontextmanager
async def connected(worker: Worker, replica: Replica) -> AsyncIterator[asyncio.Task[None]]:
    """The worker's relay connection to `replica`, recorded in the store once inside."""
    task = asyncio.create_task(worker.serve(replica))
    try:
        await asyncio.wait_for(worker.connected.wait(), WAIT_S)
        worker.connected.clear()
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until_recorded(replica: Replica, worker_id: str, holder: Replica | None) -> None:
    """Wait until the store names `holder` as holding the worker's connection (recorded
    right after the connection is made), or with None, names none (deleted right after the
    connection ended)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            found = await asyncio.to_thread(replica.holder, worker_id)
            wanted = None if holder is None else holder.root_url  # its advertised URL
            if (found and found.replica_url) == wanted:
                return
            await asyncio.sleep(0.01)


async def claimed_run(replica: Replica, worker_id: str) -> str:
    """A task whose run 0 `worker_id` holds."""
    task_id = new_slugid()
    async with replica.client() as queue:
        await queue.create_task(task_id, helpers.task_definition(QUEUE_ID))
        claims = await queue.claim_work(QUEUE_ID, worker_group=GROUP, worker_id=worker_id)
    assert [c.status.task_id for c in claims.tasks] == [task_id]
    return task_id


async def plain_get(url: str) -> tuple[int, str]:
    """The status and error message of a plain GET (no websocket), bounded in time."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_S)) as session,
        session.get(url) as response,
    ):
        return response.status, str((await response.json())["message"])


async def test_a_live_log_and_a_shell_opened_on_other_replicas_reach_the_worker(
    replicas: list[Replica],
) -> None:
    a, b, c = replicas
    worker = Worker(new_slugid())
    async with connected(worker, a), AsyncExitStack() as stack:
        await until_recorded(b, worker.worker_id, a)
        task_id = await claimed_run(b, worker.worker_id)
        viewing = await stack.enter_async_context(b.client())
        log = await stack.enter_async_context(viewing.live_log(task_id, 0, SECRET))
        log_end = await worker.next_stream()
        assert log_end.request is not None and log_end.request.kind == "log"
        await log_end.send(b"first line\n")
        assert await asyncio.wait_for(anext(log), WAIT_S) == b"first line\n"

        shelling = await stack.enter_async_context(c.client())
        shell: ShellSession = await stack.enter_async_context(shelling.shell(task_id, 0, SECRET))
        shell_end = await worker.next_stream()
        assert shell_end.request is not None and shell_end.request.kind == "shell"
        await shell.send(b"echo hi\n")
        assert await asyncio.wait_for(shell_end.receive(), WAIT_S) == stdin_frame(b"echo hi\n")
        await shell_end.send(b"hi\r\n")
        assert await asyncio.wait_for(anext(shell), WAIT_S) == b"hi\r\n"

        # The viewer leaves: the worker's stream ends.
        await shell.close()
        assert await asyncio.wait_for(shell_end.receive(), WAIT_S) is None
        # The worker ends the log: the viewer sees the end of the log, with its close code.
        await log_end.send(b"last line\n")
        await log_end.close(1000, "end of log")
        rest = [chunk async for chunk in log]
        assert rest == [b"last line\n"]
        assert log.complete and log.close_reason == "end of log"


async def test_a_viewer_on_the_holding_replica_is_served_before_the_record_is_written(
    replicas: list[Replica], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker sees its websocket accepted before the holder's record reaches the store:
    a viewer arriving in between, on the replica holding the connection, is served from it
    (as on one replica) rather than told the worker is not connected. The record's write is
    held back until the viewer's stream has been routed (to the local connection, or by a
    look in the store), so the viewer always arrives in between."""
    a = replicas[0]
    assert a.running is not None
    store, relays = a.running.runner.app[STORE], a.running.runner.app[RELAYS]
    routed = threading.Event()
    record, look_up, open_here = store.record_relay_holder, store.relay_holder, relays.local.open

    async def held_back(*args: Any, **kwargs: Any) -> Any:
        await asyncio.to_thread(routed.wait)
        return await record(*args, **kwargs)

    async def looked_up(*args: Any, **kwargs: Any) -> Any:
        found = await look_up(*args, **kwargs)
        routed.set()
        return found

    async def opened_here(*args: Any, **kwargs: Any) -> Any:
        routed.set()
        return await open_here(*args, **kwargs)

    monkeypatch.setattr(store, "record_relay_holder", held_back)
    monkeypatch.setattr(store, "relay_holder", looked_up)
    monkeypatch.setattr(relays.local, "open", opened_here)
    worker = Worker(new_slugid())
    try:
        async with connected(worker, a), a.client() as viewing:
            task_id = await claimed_run(a, worker.worker_id)
            async with viewing.live_log(task_id, 0, SECRET) as log:
                log_end = await worker.next_stream()
                await log_end.send(b"x")
                assert await asyncio.wait_for(anext(log), WAIT_S) == b"x"
    finally:
        routed.set()


async def test_a_refusal_and_an_absent_worker_come_back_through_another_replica(
    replicas: list[Replica],
) -> None:
    a, b, _ = replicas
    worker = Worker(new_slugid())
    async with connected(worker, a), b.client() as viewing:
        await until_recorded(b, worker.worker_id, a)
        task_id = await claimed_run(a, worker.worker_id)
        with pytest.raises(AuthenticationFailed, match="wrong secret"):
            async with viewing.live_log(task_id, 0, "x" * 32):
                pass
    # The connection ended: its record goes, and a viewer is told at once.
    await until_recorded(b, worker.worker_id, None)
    with pytest.raises(ServerError, match=r"503.*not connected"):
        async with b.client() as viewing, viewing.live_log(task_id, 0, SECRET):
            pass


async def test_a_stream_ends_for_the_viewer_when_the_holding_replica_shuts_down(
    tmp_path: Path, database: str
) -> None:
    settings = [queue_settings(tmp_path / n, database, secret_key=SECRET_KEY) for n in "ab"]
    (held, held_thread), (other, other_thread) = (start_queue(s) for s in settings)
    a, b = Replica(held.root_url, held), Replica(other.root_url, other)
    worker = Worker(new_slugid())
    try:
        async with connected(worker, a), b.client() as viewing:
            await until_recorded(b, worker.worker_id, a)
            task_id = await claimed_run(a, worker.worker_id)
            async with viewing.live_log(task_id, 0, SECRET) as log:
                log_end = await worker.next_stream()
                await log_end.send(b"x")
                assert await asyncio.wait_for(anext(log), WAIT_S) == b"x"
                await asyncio.to_thread(stop_queue, held, held_thread)
                assert [chunk async for chunk in log] == []
                assert log.close_code == 1001 and not log.complete
    finally:
        if held.loop.is_running():
            stop_queue(held, held_thread)
        stop_queue(other, other_thread)


async def test_a_record_left_by_a_killed_replica_is_answered_503_at_once_and_deleted(
    tmp_path: Path, database: str
) -> None:
    shared = Secrets(ROOT_TOKEN, SECRET_KEY)
    other, thread = start_queue(queue_settings(tmp_path, database, secret_key=SECRET_KEY))
    b = Replica(other.root_url, other)
    worker = Worker(new_slugid())
    try:
        async with running_queue(database_url=database, shared=shared) as process:
            a = Replica(process.root_url)
            async with connected(worker, a) as serving, b.client() as viewing:
                await until_recorded(b, worker.worker_id, a)
                task_id = await claimed_run(b, worker.worker_id)
                async with viewing.live_log(task_id, 0, SECRET) as log:
                    log_end = await worker.next_stream()
                    await log_end.send(b"x")
                    assert await asyncio.wait_for(anext(log), WAIT_S) == b"x"
                    os.kill(process.pid, signal.SIGKILL)
                    # The viewer's stream through the killed replica ends, as resumable.
                    assert [chunk async for chunk in log] == []
                    assert log.close_code == 1001
                await asyncio.wait_for(asyncio.gather(serving, return_exceptions=True), WAIT_S)
                # The worker is gone with its connection: the record it left is stale.
                assert await asyncio.to_thread(b.holder, worker.worker_id) is not None
                url = viewing.url("liveLog", {"taskId": task_id, "runId": 0, "secret": SECRET})
                status, message = await plain_get(url)
                assert status == 503 and "is gone" in message, message
                assert a.root_url in message
                assert await asyncio.to_thread(b.holder, worker.worker_id) is None
                status, message = await plain_get(url)
                assert status == 503 and "not connected" in message, message
    finally:
        stop_queue(other, thread)


async def test_a_worker_reconnecting_to_another_replica_replaces_the_record(
    replicas: list[Replica],
) -> None:
    a, b, c = replicas
    first, again = Worker("w-twice"), Worker("w-twice")
    async with connected(first, a) as first_connection:
        await until_recorded(c, first.worker_id, a)
        task_id = await claimed_run(c, first.worker_id)
        # The worker connects again, to B (its connection to A looked dead to it): B takes
        # the record over, and A closes the older connection as replaced.
        async with connected(again, b):
            await until_recorded(c, again.worker_id, b)
            await asyncio.wait_for(first_connection, WAIT_S)
            assert first.closed_with == CLOSE_REPLACED
            for replica in (a, b, c):  # every replica's viewers reach the new connection
                async with replica.client() as viewing, viewing.live_log(task_id, 0, SECRET):
                    reached = await again.next_stream()
                    await reached.close(1000, "")
            assert first.streams.empty()
        # The new connection ended: its record goes with it.
        await until_recorded(c, first.worker_id, None)


async def test_the_peer_route_needs_the_replicas_shared_secret(replicas: list[Replica]) -> None:
    a, _, _ = replicas
    url = a.root_url + peer_path(GROUP, "w")
    request = OpenStream(kind="log", task_id="t", run_id=0, secret=SECRET, window=65536)
    now_ms = int(time.time() * 1000)
    another_key = PeerSigner(bytes(32)).headers(
        "GET", GROUP, "w", "x", open_detail(request), now_ms
    )
    async with aiohttp.ClientSession() as session:
        for method, headers in (("GET", {}), ("DELETE", {}), ("GET", another_key)):
            async with session.request(method, url, headers=headers) as response:
                assert response.status == 401
                body = await response.json()
                assert "INFRAX_SECRET_KEY" in body["message"]


async def test_a_viewer_that_stops_reading_holds_the_worker_back_across_replicas(
    replicas: list[Replica],
) -> None:
    """Back-pressure through both hops: a viewer on B that reads nothing stops the worker on
    A once the stream's window and the sockets' buffers are full; nothing piles up without
    bound in between. (The stall is seen as no progress for a while: there is no event for
    'nothing happens'.)"""
    a, b, _ = replicas
    worker = Worker(new_slugid())
    piece = b"x" * MAX_DATA
    sent = 0

    async def send_all(stream: Channel) -> None:
        nonlocal sent
        while sent < TOTAL_BYTES:
            await stream.send(piece)
            sent += len(piece)
        await stream.close(1000, "")

    async with connected(worker, a), b.client() as viewing:
        await until_recorded(b, worker.worker_id, a)
        task_id = await claimed_run(a, worker.worker_id)
        async with viewing.live_log(task_id, 0, SECRET) as log:
            sender = asyncio.create_task(send_all(await worker.next_stream()))
            async with asyncio.timeout(WAIT_S):
                seen = -1
                while sent != seen:
                    seen = sent
                    await asyncio.sleep(STALL_S)
            assert not sender.done()
            assert sent < TOTAL_BYTES // 2
            received = 0
            async for chunk in log:
                received += len(chunk)
            await asyncio.wait_for(sender, WAIT_S)
    assert received == sent == TOTAL_BYTES
