"""Cron ticks against a real queue and real SQLite, with the clock injected (protocol.md,
"Schedules"): missed ticks collapse into one fire, and two schedulers sharing a database
never fire the same tick twice."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from clients import hawk
from clients.client import Options, Queue, RetryPolicy
from clients.protocol.hooks import HookDefinition, HookMetadata
from clients.protocol.ids import new_slugid
from scheduler.cron import Cron
from scheduler.firing import Firer
from scheduler.store import HookRow, HookStore
from tests.conftest import ROOT_TOKEN, RunningQueue
from tests.e2e.scheduler_system import ROLES, hook_definition

MINUTE_MS = 60_000


@pytest.fixture
def queue_overrides(tmp_path: Path) -> dict[str, object]:
    roles = tmp_path / "roles.json"
    roles.write_text(json.dumps(ROLES))
    return {"roles_file": roles}


def _hook(hook_id: str, schedule: list[str], task: object = None) -> HookDefinition:
    given = hook_definition()
    return HookDefinition(
        hook_group_id="ci",
        hook_id=hook_id,
        metadata=HookMetadata(**given["metadata"]),
        schedule=schedule,
        task=given["task"] if task is None else task,
        trigger_schema=given["triggerSchema"],
    )


def _this_minute() -> int:
    return int(time.time() * 1000) // MINUTE_MS * MINUTE_MS


async def _cron(queue: RunningQueue, path: Path) -> tuple[HookStore, Queue, Cron]:
    store = await HookStore.open(path)
    client = Queue(Options(queue.root_url, hawk.Credentials("root", ROOT_TOKEN)))
    return store, client, Cron(store, Firer(store, client), poll_s=1, lease_s=60)


async def test_ticks_missed_while_down_fire_once_then_the_schedule_resumes_from_now(
    queue: RunningQueue, tmp_path: Path
) -> None:
    store, client, cron = await _cron(queue, tmp_path / "s.sqlite3")
    try:
        now = _this_minute()
        task_id = new_slugid()
        # As left by a scheduler that stopped ten ticks ago.
        row = HookRow(_hook("minutely", ["* * * * *"]), "token", task_id, now - 10 * MINUTE_MS)
        await store.create_hook(row)
        assert await cron.run_once(now + 5_000) == 1
        assert await cron.run_once(now + 6_000) == 0
        after = await store.get_hook("ci", "minutely")
        assert after is not None
        assert after.next_scheduled == now + MINUTE_MS
        assert after.next_task_id != task_id
        [fire] = await store.list_fires("ci", "minutely", None, 10)
        assert (fire.result, fire.task_id, fire.fired_by) == ("success", task_id, "schedule")
        assert (await client.status(task_id)).status.state.value == "pending"
        assert await cron.run_once(now + MINUTE_MS) == 1
    finally:
        await client.close()
        await store.close()


async def test_two_schedulers_on_one_database_fire_a_tick_once(
    queue: RunningQueue, tmp_path: Path
) -> None:
    path = tmp_path / "shared.sqlite3"
    one, client_one, cron_one = await _cron(queue, path)
    two, client_two, cron_two = await _cron(queue, path)
    try:
        now = _this_minute()
        for n in range(10):
            row = HookRow(_hook(f"h{n}", ["* * * * *"]), "t", new_slugid(), now - MINUTE_MS)
            await one.create_hook(row)
        fired = await asyncio.gather(cron_one.run_once(now), cron_two.run_once(now))
        assert sum(fired) == 10
        for n in range(10):
            assert len(await two.list_fires("ci", f"h{n}", None, 10)) == 1
        assert await asyncio.gather(cron_one.run_once(now), cron_two.run_once(now)) == [0, 0]
    finally:
        for closing in (client_one, client_two):
            await closing.close()
        await one.close()
        await two.close()


async def test_a_tick_the_queue_cannot_take_is_retried_with_the_same_task(
    queue: RunningQueue, tmp_path: Path
) -> None:
    """A 5xx or an unreachable queue advances nothing; the retry renders the same task."""
    store = await HookStore.open(tmp_path / "s.sqlite3")
    credentials = hawk.Credentials("root", ROOT_TOKEN)
    down = Queue(Options("http://127.0.0.1:9", credentials, retry=RetryPolicy(max_retries=0)))
    cron = Cron(store, Firer(store, down), poll_s=1, lease_s=60)
    try:
        now = _this_minute()
        task_id = new_slugid()
        await store.create_hook(HookRow(_hook("h", ["* * * * *"]), "t", task_id, now))
        assert await cron.run_once(now + 1000) == 0
        row = await store.get_hook("ci", "h")
        assert row is not None and (row.next_scheduled, row.next_task_id) == (now, task_id)
        assert await store.list_fires("ci", "h", None, 10) == []
    finally:
        await down.close()
        await store.close()
