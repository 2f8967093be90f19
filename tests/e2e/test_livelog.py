"""Live logs end to end: a real queue, a real worker and engine, viewers over websockets and
HTTP, directly and through the relay (protocol.md §18.1, §18.3).

Every task prints a first line, then waits for the test to let it go, so the viewers are
known to follow a *running* task; what they saw is compared with the stored log.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import docker
import pytest

from clients.client import AuthenticationFailed, LogStream, ResourceExpired
from queue_server.keys import RELAYS
from tests.conftest import RunningQueue
from tests.livestreams import Viewer, live_url, stored_log
from tests.workers import create, outcome, payload, resolution, running_worker, worker_settings

SCRIPT = (
    "echo first line; i=0; while [ ! -e {go} ]; do i=$((i+1)); sleep 0.05; done; echo second line"
)


def waiting_payload(engine: str, image: str, **extra: Any) -> dict[str, Any]:
    go = "/tmp/go" if engine == "docker" else "go"
    return payload(engine, image, SCRIPT.format(go=go), **extra)


def let_go(engine: str, work_dir: Path, task_id: str) -> None:
    """Let the waiting task finish (a file it waits for)."""
    name = f"infrax-{task_id}-0"
    if engine == "docker":
        client = docker.from_env()
        try:
            client.containers.get(name).exec_run(["touch", "/tmp/go"])
        finally:
            client.close()
    else:
        (work_dir / "tasks" / name / "go").touch()


@pytest.mark.parametrize("path", ["direct", "relay"])
async def test_several_viewers_follow_a_running_task_and_see_exactly_the_stored_log(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str, path: str
) -> None:
    # direct: the worker's own port, no relay. relay: no port of the worker's at all.
    live = {"live_listen": "127.0.0.1:0", "relay": False} if path == "direct" else {}
    settings = worker_settings(queue, tmp_path, engine, **live)
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        if daemon.relay is not None:
            await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(queue, engine, waiting_payload(engine, image))
        url = await live_url(queue, task_id)
        assert ("/live-log/" in url) == (path == "relay"), url
        viewers = [Viewer(session, url) for _ in range(3)]
        for viewer in viewers:
            await viewer.start()
        plain = asyncio.create_task(_plain_get(session, url))
        for viewer in viewers:
            await viewer.wait_for(b"first line\n")
        # One viewer drops and comes back from where it was.
        offset = await viewers[0].disconnect()
        seen_before = bytes(viewers[0].received)
        resumed = Viewer(session, url, offset=offset)
        await resumed.start()
        let_go(engine, settings.work_dir, task_id)
        message = await resolution(queue, task_id)
        seen = [await viewer.finished() for viewer in viewers[1:]]
        seen_resumed = await resumed.finished()
        seen_plain = await asyncio.wait_for(plain, 60)
    assert outcome(message) == ("completed", "completed")
    stored = await stored_log(queue, task_id)
    assert b"first line\nsecond line\n" in stored
    for log in seen:
        assert log == stored
    assert seen_before + seen_resumed == stored
    assert seen_plain == stored


async def _plain_get(session: aiohttp.ClientSession, url: str) -> bytes:
    async with session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        assert response.headers.get("Transfer-Encoding") == "chunked"
        return await response.read()


@pytest.mark.parametrize("path", ["direct", "relay"])
async def test_a_wrong_secret_is_401_and_a_finished_run_is_gone(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str, path: str
) -> None:
    live = {"live_listen": "127.0.0.1:0", "relay": False} if path == "direct" else {}
    settings = worker_settings(queue, tmp_path, engine, **live)
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        if daemon.relay is not None:
            await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(queue, engine, waiting_payload(engine, image))
        url = await live_url(queue, task_id)
        wrong = url[: url.rindex("/") + 1] + "x" * 32
        async with session.get(wrong) as response:
            assert response.status == 401, await response.text()
        with pytest.raises(AuthenticationFailed):
            async with LogStream(session, wrong):
                pass
        watching = Viewer(session, url)
        await watching.start()
        await watching.wait_for(b"first line\n")
        let_go(engine, settings.work_dir, task_id)
        await resolution(queue, task_id)
        if path == "relay":
            with pytest.raises(ResourceExpired, match="410"):
                async with LogStream(session, url):
                    pass
        else:
            async with session.get(url) as response:
                assert response.status == 410
                assert "live_backing.log" in await response.text()
        assert daemon.context.live.session_count == 0


@pytest.mark.parametrize("path", ["direct", "relay"])
async def test_a_viewer_that_stops_reading_holds_back_neither_the_task_nor_other_viewers(
    queue: RunningQueue, tmp_path: Path, path: str
) -> None:
    live = {"live_listen": "127.0.0.1:0", "relay": False} if path == "direct" else {}
    settings = worker_settings(queue, tmp_path, "process", **live)
    script = SCRIPT.format(go="go") + "; seq 1 1500000"  # ~10 MB after the wait
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        if daemon.relay is not None:
            await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(queue, "process", payload("process", "", script))
        url = await live_url(queue, task_id)
        fast = Viewer(session, url)
        await fast.start()
        stalled = await session.ws_connect(url.replace("http", "ws", 1))  # never reads, for now
        await fast.wait_for(b"first line\n")
        let_go("process", settings.work_dir, task_id)
        fast_log = await fast.finished()
        message = await resolution(queue, task_id)
        assert outcome(message) == ("completed", "completed")
        caught_up = bytearray()
        async for received in stalled:  # it catches up from the file, to the very end
            caught_up += received.data
        assert stalled.close_code == 1000
    stored = await stored_log(queue, task_id)
    assert len(stored) > 10_000_000
    assert fast_log == stored
    assert bytes(caught_up) == stored


async def test_the_relay_connection_comes_back_and_a_viewer_resumes_from_its_offset(
    queue: RunningQueue, tmp_path: Path
) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        relay = daemon.relay
        assert relay is not None
        await asyncio.wait_for(relay.until_connected(), 60)
        task_id = await create(queue, "process", waiting_payload("process", ""))
        url = await live_url(queue, task_id)
        first = Viewer(session, url)
        await first.start()
        await first.wait_for(b"first line\n")

        async def drop() -> None:  # on the queue's side, as a restart or a lost NAT would
            queue.runner.app[RELAYS].close_all(1001, "dropped by the test")

        queue.call(drop())
        assert first.task is not None
        await asyncio.wait_for(asyncio.shield(first.task), 60)
        assert first.stream is not None and not first.stream.complete
        await asyncio.wait_for(relay.until_connected(times=2), 60)
        resumed = Viewer(session, url, offset=len(first.received))
        await resumed.start()
        let_go("process", settings.work_dir, task_id)
        rest = await resumed.finished()
        await resolution(queue, task_id)
    assert bytes(first.received) + rest == await stored_log(queue, task_id)
