"""Writes through the SQLite store's group commit: each committed change's messages are
published once, in commit order, before its caller resumes, even when the caller went away."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clients.protocol.errors import ApiError, conflict
from clients.protocol.events import Exchange, Message
from queue_server.bus import Bus
from queue_server.store.db import Db, Txn
from queue_server.store.records import group_message
from queue_server.store.sqlite import SQLiteStore


@pytest.fixture
async def bus_and_store(tmp_path: Path) -> AsyncIterator[tuple[Bus, SQLiteStore]]:
    bus = Bus()
    store = await SQLiteStore.open(tmp_path / "q.sqlite3", bus)
    yield bus, store
    await store.close()


def _message(name: str) -> Message:
    return group_message(Exchange.task_group_resolved, name, ("scheduler", 0, None))


def _insert(
    name: str, fail: bool = False, hold: threading.Event | None = None
) -> Txn[tuple[str, list[Message]]]:
    """A transaction that inserts a task group row named `name` and announces it."""

    async def txn(db: Db) -> tuple[str, list[Message]]:
        if hold is not None:
            hold.wait(10)  # in the database thread: the batches behind this one wait
        await db.run(
            "INSERT INTO task_groups (task_group_id, scheduler_id, expires, sealed, active)"
            " VALUES (?, 's', 0, NULL, 0)",
            (name,),
        )
        if fail:
            raise conflict(f"{name} refused")
        return name, [_message(name)]

    return txn


async def _stored(store: SQLiteStore) -> list[str]:
    async def names(db: Db) -> list[str]:
        return [r[0] for r in await db.all("SELECT task_group_id FROM task_groups ORDER BY 1")]

    return await store._read(names)


async def test_messages_are_published_in_commit_order_before_each_caller_resumes(
    bus_and_store: tuple[Bus, SQLiteStore],
) -> None:
    bus, store = bus_and_store
    published: list[str] = []
    bus.subscribe(lambda m: published.append(m.routing_key))

    async def write(name: str) -> None:
        await store._write(_insert(name))
        assert _message(name).routing_key in published  # already, when the caller resumes

    names = [f"g{i:02d}" for i in range(40)]
    await asyncio.gather(*(write(name) for name in names))  # concurrent: batched commits
    assert published == [_message(name).routing_key for name in names]
    assert await _stored(store) == names


async def test_a_failed_transaction_publishes_nothing_and_its_batch_commits(
    bus_and_store: tuple[Bus, SQLiteStore],
) -> None:
    bus, store = bus_and_store
    published: list[str] = []
    bus.subscribe(lambda m: published.append(m.routing_key))
    results = await asyncio.gather(
        store._write(_insert("a")),
        store._write(_insert("b", fail=True)),
        store._write(_insert("c")),
        return_exceptions=True,
    )
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ApiError)
    assert published == [_message("a").routing_key, _message("c").routing_key]
    assert await _stored(store) == ["a", "c"]


def _count(fail: bool = False) -> Txn[tuple[int, list[Message]]]:
    """A transaction that adds one to the `counter` group's count and returns the new count."""

    async def txn(db: Db) -> tuple[int, list[Message]]:
        row = await db.one(
            "UPDATE task_groups SET active = active + 1 WHERE task_group_id = 'counter'"
            " RETURNING active"
        )
        assert row is not None
        if fail:
            raise conflict("refused")
        return row[0], []

    return txn


async def test_a_batch_with_a_failed_transaction_applies_each_other_one_once(
    bus_and_store: tuple[Bus, SQLiteStore],
) -> None:
    """The batch runs without savepoints first; when one fails it is rolled back and run again
    with savepoints: the others' changes and results are those of one run each."""
    _bus, store = bus_and_store
    await store._write(_insert("counter"))
    commits = store.commits
    results = await asyncio.gather(
        *(store._write(_count(fail=i == 3)) for i in range(6)), return_exceptions=True
    )
    assert store.commits == commits + 1  # one batch
    assert isinstance(results[3], ApiError)
    assert [r for i, r in enumerate(results) if i != 3] == [1, 2, 3, 4, 5]

    async def count(db: Db) -> int:
        row = await db.one("SELECT active FROM task_groups WHERE task_group_id = 'counter'")
        assert row is not None
        return int(row[0])

    assert await store._read(count) == 5


async def test_a_write_whose_caller_is_cancelled_still_commits_and_publishes(
    bus_and_store: tuple[Bus, SQLiteStore],
) -> None:
    bus, store = bus_and_store
    arrived = asyncio.Event()
    bus.subscribe(
        lambda m: arrived.set() if m.routing_key == _message("late").routing_key else None
    )
    hold = threading.Event()
    first = asyncio.create_task(store._write(_insert("first", hold=hold)))
    await asyncio.sleep(0)  # the first batch is under way and holds the database thread
    caller = asyncio.create_task(store._write(_insert("late")))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    hold.set()
    assert await first == "first"
    await asyncio.wait_for(arrived.wait(), 10)
    assert await _stored(store) == ["first", "late"]
