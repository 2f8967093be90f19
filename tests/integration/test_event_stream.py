"""The event stream over a real websocket: patterns, routes, read scopes, refused frames,
slow subscribers dropped, shutdown, and the Python client's subscription API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import pytest
import slugid

from clients import hawk
from clients.client import (
    Auth,
    AuthenticationFailed,
    EventStream,
    EventStreamClosed,
    EventStreamError,
    Options,
    Queue,
    credentials_of,
)
from clients.client.events import Event
from clients.protocol.events import Exchange, TaskMessage
from clients.protocol.stream import CLOSE_GOING_AWAY, CLOSE_TOO_SLOW, Binding
from queue_server.keys import HUB
from tests.conftest import ROOT_TOKEN, RunningQueue, queue_settings, start_queue, stop_queue
from tests.helpers import task_definition

ROOT = hawk.Credentials("root", ROOT_TOKEN)
TIMEOUT = 30.0


@pytest.fixture
async def client(queue: RunningQueue) -> AsyncIterator[Queue]:
    async with Queue(Options(queue.root_url, ROOT)) as client:
        yield client


async def next_event(stream: EventStream) -> Event:
    return await asyncio.wait_for(anext(stream), TIMEOUT)


def task_id_of(event: Event) -> str:
    assert isinstance(event.body, TaskMessage)
    return event.body.status.task_id


async def test_a_task_binding_receives_that_tasks_resolution_with_exchange_and_key(
    client: Queue,
) -> None:
    task_id = slugid.nice()
    async with client.events([Binding.for_task(Exchange.task_completed, task_id)]) as stream:
        await client.create_task(task_id, task_definition("prov/stream"))
        [claim] = (await client.claim_work("prov/stream", worker_group="g", worker_id="w")).tasks
        worker = client.with_credentials(credentials_of(claim.credentials))
        await worker.report_completed(task_id, claim.run_id)
        event = await next_event(stream)
    assert event.exchange is Exchange.task_completed
    assert event.routing_key.startswith(f"primary.{task_id}.0.g.w.prov.stream.-.")
    assert isinstance(event.body, TaskMessage)
    assert event.body.status.state == "completed"
    assert event.body.worker_id == "w"


async def test_group_and_queue_patterns_select_only_their_tasks(client: Queue) -> None:
    group, elsewhere = slugid.nice(), slugid.nice()
    bindings = [
        Binding.for_task_group(Exchange.task_defined, group),
        Binding.for_task_queue(Exchange.task_pending, "prov/watched"),
    ]
    async with client.events(bindings) as stream:
        outside = slugid.nice()
        await client.create_task(outside, task_definition("prov/other", taskGroupId=elsewhere))
        inside = slugid.nice()
        await client.create_task(inside, task_definition("prov/other", taskGroupId=group))
        queued = slugid.nice()
        await client.create_task(queued, task_definition("prov/watched", taskGroupId=elsewhere))
        # Published in this order; a wrongly matched `outside` would have come first.
        first, second = await next_event(stream), await next_event(stream)
    assert (first.exchange, task_id_of(first)) == (Exchange.task_defined, inside)
    assert (second.exchange, task_id_of(second)) == (Exchange.task_pending, queued)


async def test_cc_routes_are_matched_and_delivered(client: Queue) -> None:
    async with client.events(
        [Binding.of(Exchange.task_defined, "route.index.project.#")]
    ) as stream:
        await client.create_task(slugid.nice(), task_definition())
        routed = slugid.nice()
        routes = ["index.project.build", "notify.someone"]
        await client.create_task(routed, task_definition(routes=routes))
        event = await next_event(stream)
    assert task_id_of(event) == routed
    assert event.routes == routes


async def test_unsubscribing_stops_a_binding(client: Queue) -> None:
    first, second = slugid.nice(), slugid.nice()
    async with client.events([Binding.for_task(Exchange.task_defined, first)]) as stream:
        await stream.subscribe([Binding.for_task(Exchange.task_defined, second)])
        await stream.unsubscribe([Binding.for_task(Exchange.task_defined, first)])
        await client.create_task(first, task_definition())
        await client.create_task(second, task_definition())
        assert task_id_of(await next_event(stream)) == second


async def test_refused_frames_say_why_and_leave_the_stream_usable(client: Queue) -> None:
    task_id = slugid.nice()
    async with client.events() as stream:
        with pytest.raises(EventStreamError, match="unknown exchange"):
            await stream.subscribe([Binding(exchange="exchange/nope", routing_key_pattern="#")])
        with pytest.raises(EventStreamError, match=r"bindings\[1\]: .*empty"):
            await stream.subscribe(
                [Binding.for_task(Exchange.task_defined, task_id), Binding.of("task-defined", "")]
            )
        await stream.subscribe([Binding.for_task(Exchange.task_defined, task_id)])
        await client.create_task(task_id, task_definition())
        assert task_id_of(await next_event(stream)) == task_id


async def test_bad_credentials_are_401_and_a_plain_get_is_400(queue: RunningQueue) -> None:
    async with Queue(Options(queue.root_url, hawk.Credentials("root", "wrong"))) as forged:
        with pytest.raises(AuthenticationFailed):
            await forged.events().open()
    url = f"{queue.root_url}/api/queue/v1/events"
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        assert answer.status == 400
        assert (await answer.json())["code"] == "InputError"


async def test_a_subscriber_that_falls_behind_is_dropped_with_a_clear_reason(
    tmp_path: Path,
) -> None:
    running, thread = start_queue(queue_settings(tmp_path, events_buffer=5))
    try:
        async with Queue(Options(running.root_url, ROOT)) as client:
            group = slugid.nice()
            for _ in range(8):
                await client.create_task(slugid.nice(), task_definition(taskGroupId=group))
            await client.seal_task_group(group)
            binding = Binding.for_task_group(Exchange.task_exception, group)
            async with client.events([binding]) as stream:
                # cancelTaskGroup publishes 8 task-exception messages in one go: more than the
                # 5 the server buffers before its writer runs again.
                await client.cancel_task_group(group)
                with pytest.raises(EventStreamClosed) as dropped:
                    async for _ in stream:
                        pass
            assert dropped.value.code == CLOSE_TOO_SLOW
            assert dropped.value.reason.startswith("too slow: 5 messages were waiting")

            async def subscribers() -> int:
                return running.runner.app[HUB].subscriber_count

            assert running.call(subscribers()) == 0
            assert (await client.ping()).alive
    finally:
        stop_queue(running, thread)


async def test_shutdown_closes_streams_with_going_away(tmp_path: Path) -> None:
    running, thread = start_queue(queue_settings(tmp_path))
    stopped = False
    try:
        binding = Binding.of(Exchange.task_defined)
        async with (
            Queue(Options(running.root_url)) as anonymous,
            anonymous.events([binding]) as stream,
        ):
            stopper = asyncio.get_running_loop().run_in_executor(None, stop_queue, running, thread)
            with pytest.raises(EventStreamClosed) as closed:
                await next_event(stream)
            await stopper
            stopped = True
        assert closed.value.code == CLOSE_GOING_AWAY
    finally:
        if not stopped:
            stop_queue(running, thread)


@pytest.mark.parametrize("queue_overrides", [{"anonymous_scopes": ()}])
async def test_without_public_read_scopes_messages_need_the_callers_scopes(
    client: Queue, queue: RunningQueue
) -> None:
    readable, hidden = slugid.nice(), slugid.nice()
    made = await client.sibling(Auth).create_client(
        "watcher", {"expires": "3000-01-01T00:00:00.000Z", "scopes": [f"queue:status:{readable}"]}
    )
    watcher = client.with_credentials(hawk.Credentials("watcher", made.access_token))
    everything = [Binding.of(Exchange.task_defined)]
    async with Queue(Options(queue.root_url)) as anonymous, anonymous.events() as blind:
        subscribed = await blind.subscribe(everything)
    assert subscribed.filtered == ["exchange/taskcluster-queue/v1/task-defined"]
    async with watcher.events() as seeing:
        assert (await seeing.subscribe(everything)).filtered == subscribed.filtered
        await client.create_task(hidden, task_definition())
        await client.create_task(readable, task_definition())
        # Published in this order: had `hidden` been sent, it would have come first.
        assert task_id_of(await next_event(seeing)) == readable


async def test_a_browser_authenticates_with_a_bewit(client: Queue, queue: RunningQueue) -> None:
    url = hawk.sign_bewit(
        ROOT, f"{queue.root_url}/api/queue/v1/events", expires=60, now=time.time()
    )
    task_id = slugid.nice()
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        binding = {
            "exchange": "exchange/taskcluster-queue/v1/task-defined",
            "routingKeyPattern": f"primary.{task_id}.#",
        }
        await socket.send_str(
            msgspec.json.encode({"type": "subscribe", "id": "1", "bindings": [binding]}).decode()
        )
        assert (await socket.receive_json(timeout=TIMEOUT))["type"] == "subscribed"
        await client.create_task(task_id, task_definition())
        frame = await socket.receive_json(timeout=TIMEOUT)
    assert frame["type"] == "message"
    assert frame["payload"]["status"]["taskId"] == task_id
