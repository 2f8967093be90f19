"""Three PostgreSQL stores on one schema, as three queue replicas share one database: claims
and resolvers running in all of them at once take each row once; what one commits reaches
the bus (claim waiters and event subscribers) of every other."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from clients.protocol.events import Exchange, Message, TaskMessage
from clients.protocol.ids import new_slugid
from clients.protocol.states import ReasonResolved, RunState
from queue_server.bus import Bus
from queue_server.resolvers import resolve_due
from queue_server.store.postgres import PostgresStore
from tests.integration.test_store import HOUR, NOW, definition
from tests.postgres import admin, postgres_schema

pytestmark = pytest.mark.postgres

QUEUE = "p/w"
WAIT_S = 15.0  # bounds a hang; the events arrive long before


@dataclass
class Replica:
    store: PostgresStore
    bus: Bus
    heard: list[Message] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def hear(self, message: Message) -> None:
        self.heard.append(message)
        self.arrived.set()

    async def wait_until_heard(self, count: int) -> None:
        while len(self.heard) < count:
            self.arrived.clear()
            await self.arrived.wait()


@pytest.fixture
async def replicas() -> AsyncIterator[list[Replica]]:
    with postgres_schema() as url:
        opened: list[Replica] = []
        try:
            for _ in range(3):
                bus = Bus()
                replica = Replica(await PostgresStore.open(url, bus, pool_size=3), bus)
                bus.subscribe(replica.hear)
                opened.append(replica)
            yield opened
        finally:
            for replica in opened:
                await replica.store.close()


async def create(store: PostgresStore, count: int, **kwargs: object) -> list[str]:
    ids = [new_slugid() for _ in range(count)]
    for task_id in ids:
        task, deadline, expires = definition(task_id, **kwargs)  # type: ignore[arg-type]
        await store.create_task(task_id, task, deadline, expires, NOW)
    return ids


async def runs_of(store: PostgresStore, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    records = await store.get_records(ids)
    return {
        r.status.task_id: [(run.state.value, str(run.reason_resolved)) for run in r.status.runs]
        for r in records
    }


async def test_claimers_in_every_replica_claim_each_run_once(replicas: list[Replica]) -> None:
    ids = await create(replicas[0].store, 300)

    async def claim_until_empty(store: PostgresStore, worker: str) -> list[str]:
        got: list[str] = []
        while claims := await store.claim_work(QUEUE, "g", worker, 8, NOW, NOW + HOUR):
            got += [c.status.task_id for c in claims]
        return got

    claimers = [
        claim_until_empty(replica.store, f"w{n}-{i}")
        for n, replica in enumerate(replicas)
        for i in range(3)
    ]
    claimed = [task_id for got in await asyncio.gather(*claimers) for task_id in got]
    assert [t for t, n in Counter(claimed).items() if n > 1] == []
    assert sorted(claimed) == sorted(ids)
    counts = await replicas[1].store.counts([QUEUE])
    assert (counts[0].pending_tasks, counts[0].claimed_tasks) == (0, 300)


async def test_resolvers_in_every_replica_expire_each_claim_once(replicas: list[Replica]) -> None:
    ids = await create(replicas[0].store, 300)
    while await replicas[0].store.claim_work(QUEUE, "g", "w", 32, NOW, NOW + 1000):
        pass
    later = NOW + 2000
    done = await asyncio.gather(*(resolve_due(r.store, later) for r in replicas))
    assert sum(done) == 300
    runs = await runs_of(replicas[2].store, ids)
    expected = [("exception", "claim-expired"), ("pending", "UNSET")]
    assert {task_id: r for task_id, r in runs.items() if r != expected} == {}


async def test_resolvers_in_every_replica_resolve_each_deadline_once(
    replicas: list[Replica],
) -> None:
    ids = await create(replicas[0].store, 200)
    _, deadline, _ = definition(ids[0])
    done = await asyncio.gather(*(resolve_due(r.store, deadline + 1) for r in replicas))
    assert sum(done) == 200
    runs = await runs_of(replicas[1].store, ids)
    assert {r[0] for r in runs.values()} == {("exception", "deadline-exceeded")}
    assert all(len(r) == 1 for r in runs.values())


async def test_a_waiter_in_one_replica_is_woken_by_a_task_created_in_another(
    replicas: list[Replica],
) -> None:
    waiting, creating = replicas[0], replicas[1]
    with waiting.bus.waiting(QUEUE) as woken:
        [task_id] = await create(creating.store, 1)
        await asyncio.wait_for(woken.wait(), WAIT_S)
    pending = [
        m
        for m in waiting.heard
        if m.exchange is Exchange.task_pending and isinstance(m.body, TaskMessage)
    ]
    assert [m.body.status.task_id for m in pending] == [task_id]  # type: ignore[union-attr]
    claims = await waiting.store.claim_work(QUEUE, "g", "w", 1, NOW, NOW + HOUR)
    assert [c.status.task_id for c in claims] == [task_id]


def _keys(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.exchange.value, m.routing_key) for m in messages]


async def test_every_replica_hears_every_message_once_in_commit_order(
    replicas: list[Replica],
) -> None:
    origin = replicas[1]
    [required] = await create(origin.store, 1)
    dependents = await create(origin.store, 3, dependencies=[required])
    [claim] = await origin.store.claim_work(QUEUE, "g", "w", 1, NOW, NOW + HOUR)
    await origin.store.resolve_run(
        claim.status.task_id, 0, RunState.completed, ReasonResolved.completed, NOW
    )
    sent = _keys(origin.heard)
    assert Counter(exchange for exchange, _ in sent) == {
        "task-defined": 4,
        "task-pending": 4,
        "task-running": 1,
        "task-completed": 1,
        "task-group-resolved": 1,
    }
    for replica in (replicas[0], replicas[2]):
        await asyncio.wait_for(replica.wait_until_heard(len(sent)), WAIT_S)
        assert _keys(replica.heard) == sent
    assert sorted(m.body.status.task_id for m in origin.heard[-3:]) == sorted(dependents)  # type: ignore[union-attr]


async def test_dependents_created_in_one_replica_while_another_resolves_are_scheduled(
    replicas: list[Replica],
) -> None:
    for _ in range(5):
        [required] = await create(replicas[0].store, 1)
        [claim] = await replicas[0].store.claim_work(QUEUE, "g", "w", 1, NOW, NOW + HOUR)
        creating = asyncio.ensure_future(create(replicas[1].store, 20, dependencies=[required]))
        await replicas[2].store.resolve_run(
            claim.status.task_id, 0, RunState.completed, ReasonResolved.completed, NOW
        )
        dependents = await creating
        records = await replicas[0].store.get_records(dependents)
        assert {r.status.state.value for r in records} == {"pending"}
        while await replicas[0].store.claim_work(QUEUE, "g", "w", 32, NOW, NOW + HOUR):
            pass


async def test_a_lost_listening_connection_wakes_waiters_and_listens_again(
    replicas: list[Replica],
) -> None:
    listening, creating = replicas[0], replicas[1]
    listener = listening.store._listener
    assert listener is not None
    with listening.bus.waiting(QUEUE) as woken:
        admin("SELECT pg_terminate_backend($1)", listener.get_server_pid())
        await asyncio.wait_for(woken.wait(), WAIT_S)
    assert listening.heard == []  # woken to look again, not by any message
    with listening.bus.waiting(QUEUE) as woken:
        [task_id] = await create(creating.store, 1)
        await asyncio.wait_for(woken.wait(), WAIT_S)
    assert [m.body.status.task_id for m in listening.heard] == [task_id, task_id]  # type: ignore[union-attr]


async def test_one_replica_at_a_time_drains_the_amqp_outbox() -> None:
    with postgres_schema() as url:
        stores = [await PostgresStore.open(url, Bus(), 2, outbox=True) for _ in range(2)]
        try:
            ids = await create(stores[0], 3)
            first = [await store.outbox_rows(100) for store in stores]
            assert sorted(len(rows) for rows in first) == [0, 6]  # defined + pending each
            leader = 0 if first[0] else 1
            rows = first[leader]
            assert [row.seq for row in rows] == sorted(row.seq for row in rows)
            assert {row.exchange for row in rows} == {"task-defined", "task-pending"}
            await stores[leader].close()
            assert len(await stores[1 - leader].outbox_rows(100)) == 6
            assert await stores[1 - leader].outbox_backlog() == 6
            assert len(ids) == 3
        finally:
            for store in stores:
                await store.close()
