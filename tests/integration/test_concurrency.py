"""Concurrent claimers against one task queue: claimWork hands out each pending run once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import slugid
import taskcluster.aio

from tests.conftest import RunningQueue, queue_settings, start_queue, stop_queue
from tests.helpers import task_definition

TASKS = 1000
CLAIMERS = 20
PER_CLAIM = 32
QUEUE_ID = "prov/race"


@pytest.fixture
def fast_queue(tmp_path: Path, database_url: str | None) -> Iterator[RunningQueue]:
    """A queue whose claimWork gives up after 1 s, so an idle claimer returns quickly."""
    running, thread = start_queue(queue_settings(tmp_path, database_url, claim_wait_s=1.0))
    try:
        yield running
    finally:
        stop_queue(running, thread)


async def _create_tasks(queue: taskcluster.aio.Queue, count: int) -> list[str]:
    group = slugid.nice()
    task_ids = [slugid.nice() for _ in range(count)]
    gate = asyncio.Semaphore(50)

    async def create(task_id: str) -> None:
        async with gate:
            result = await queue.createTask(task_id, task_definition(QUEUE_ID, taskGroupId=group))
        assert result["status"]["state"] == "pending"

    async with asyncio.TaskGroup() as tasks:
        for task_id in task_ids:
            tasks.create_task(create(task_id))
    return task_ids


async def _claim_until_empty(
    queue: taskcluster.aio.Queue, worker_id: str
) -> list[tuple[str, int, dict[str, object]]]:
    """Claim batches until claimWork answers empty: (taskId, runId, status) per claim.

    Every task exists before the claimers start and nothing puts a run back, so an empty
    answer (after the 1 s long-poll) means no pending run is left for anyone.
    """
    claims: list[tuple[str, int, dict[str, object]]] = []
    while True:
        answer = await queue.claimWork(
            QUEUE_ID, {"workerGroup": "race", "workerId": worker_id, "tasks": PER_CLAIM}
        )
        if not answer["tasks"]:
            return claims
        assert len(answer["tasks"]) <= PER_CLAIM
        for claim in answer["tasks"]:
            assert claim["workerGroup"] == "race"
            assert claim["workerId"] == worker_id
            claims.append((claim["status"]["taskId"], claim["runId"], claim["status"]))


async def test_racing_claimers_claim_every_task_exactly_once(fast_queue: RunningQueue) -> None:
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = taskcluster.aio.Queue(fast_queue.root_options(), session=session)
        task_ids = await _create_tasks(queue, TASKS)

        workers = [f"claimer-{n}" for n in range(CLAIMERS)]
        async with asyncio.TaskGroup() as tasks:
            running = [tasks.create_task(_claim_until_empty(queue, w)) for w in workers]
        claimed_by: dict[str, list[str]] = {}
        for worker_id, claimer in zip(workers, running, strict=True):
            for task_id, run_id, status in claimer.result():
                claimed_by.setdefault(task_id, []).append(worker_id)
                assert run_id == 0
                assert status["state"] == "running"
                run = status["runs"][run_id]  # type: ignore[index]
                assert run["state"] == "running"
                assert (run["workerGroup"], run["workerId"]) == ("race", worker_id)

        times_claimed = Counter({task_id: len(who) for task_id, who in claimed_by.items()})
        assert [t for t, n in times_claimed.items() if n > 1] == []
        assert set(claimed_by) == set(task_ids)

        statuses: dict[str, dict[str, object]] = {}
        for start in range(0, TASKS, 100):
            page = await queue.statuses({"taskIds": task_ids[start : start + 100]})
            statuses.update({s["taskId"]: s["status"] for s in page["statuses"]})
        assert set(statuses) == set(task_ids)
        for task_id, status in statuses.items():
            assert status["state"] == "running"
            runs = status["runs"]
            assert isinstance(runs, list)
            assert len(runs) == 1
            assert runs[0]["state"] == "running"
            assert runs[0]["workerId"] == claimed_by[task_id][0]

        counts = await queue.taskQueueCounts(QUEUE_ID)
        assert (counts["pendingTasks"], counts["claimedTasks"]) == (0, TASKS)
