"""The queue server killed with SIGKILL mid-traffic and restarted on the same data directory.

What was acknowledged before the kill must survive it, as SQLiteStore.open promises for
WAL with synchronous = NORMAL: every created task is there after the restart, whole, and
every claimed run can still be resolved by its worker or expires into a retry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import slugid
import taskcluster
import taskcluster.aio

from tests.helpers import task_definition

ROOT_TOKEN = "root-access-token-for-e2e-tests-0123456789"
QUEUE_ID = "prov/durable"
CLAIM_TIMEOUT_S = 4.0
CREATORS = 4
CLAIMERS = 4
KILL_AFTER_CREATED = 150
KILL_AFTER_CLAIMED = 40
# How much validity a run's credentials must have left for the test to report it completed.
REPORT_MARGIN_S = 1.0


@dataclass
class Server:
    process: asyncio.subprocess.Process
    root_url: str

    def options(self, credentials: dict[str, str] | None = None) -> dict[str, Any]:
        return {
            "rootUrl": self.root_url,
            "maxRetries": 0,
            "credentials": credentials or {"clientId": "root", "accessToken": ROOT_TOKEN},
        }


@asynccontextmanager
async def running_server(data_dir: Path, log: Path) -> AsyncIterator[Server]:
    """`python -m queue_server.main` on port 0; stopped (SIGKILL if need be) on exit."""
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "queue_server.main",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
            "--claim-timeout",
            str(CLAIM_TIMEOUT_S),
            "--claim-wait",
            "1",
            "--resolver-interval",
            "0.5",
            env={**os.environ, "INFRAX_ROOT_ACCESS_TOKEN": ROOT_TOKEN},
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 30)
        line = first.decode().strip()
        assert line.startswith("rootUrl: "), f"unexpected first line {line!r}; see {log}"
        yield Server(process, line.removeprefix("rootUrl: "))
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@dataclass
class Claim:
    task_id: str
    run_id: int
    credentials: dict[str, str]
    taken_until: float  # seconds since the epoch


@dataclass
class Traffic:
    """What the server acknowledged before it was killed."""

    definitions: dict[str, dict[str, object]] = field(default_factory=dict)  # attempted
    created: set[str] = field(default_factory=set)  # createTask answered 200
    claims: list[Claim] = field(default_factory=list)  # claimWork answered with the run
    killed: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def note_progress(self) -> None:
        if len(self.created) >= KILL_AFTER_CREATED and len(self.claims) >= KILL_AFTER_CLAIMED:
            self.ready.set()


def _seconds(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp).timestamp()


async def _until_killed(traffic: Traffic, step: Callable[[], Awaitable[None]]) -> None:
    """Repeat `step` until the server is killed; a failure before the kill fails the test."""
    while True:
        try:
            await step()
        except Exception:
            if traffic.killed:
                return
            raise


async def _create(queue: taskcluster.aio.Queue, group_id: str, traffic: Traffic) -> None:
    task_id = slugid.nice()
    definition = task_definition(QUEUE_ID, taskGroupId=group_id)
    traffic.definitions[task_id] = definition
    await queue.createTask(task_id, definition)
    traffic.created.add(task_id)
    traffic.note_progress()


async def _claim(queue: taskcluster.aio.Queue, worker_id: str, traffic: Traffic) -> None:
    answer = await queue.claimWork(
        QUEUE_ID, {"workerGroup": "durable", "workerId": worker_id, "tasks": 4}
    )
    for claim in answer["tasks"]:
        traffic.claims.append(
            Claim(
                claim["status"]["taskId"],
                claim["runId"],
                claim["credentials"],
                _seconds(claim["takenUntil"]),
            )
        )
    traffic.note_progress()


async def _traffic_until_killed(server: Server, group_id: str) -> Traffic:
    """Creators and claimers run against the server; SIGKILL it once enough was answered."""
    traffic = Traffic()
    async with aiohttp.ClientSession() as session:
        queue = taskcluster.aio.Queue(server.options(), session=session)
        async with asyncio.timeout(60), asyncio.TaskGroup() as tasks:
            for _ in range(CREATORS):
                create = functools.partial(_create, queue, group_id, traffic)
                tasks.create_task(_until_killed(traffic, create))
            for n in range(CLAIMERS):
                claim = functools.partial(_claim, queue, f"worker-{n}", traffic)
                tasks.create_task(_until_killed(traffic, claim))
            await traffic.ready.wait()
            traffic.killed = True
            server.process.kill()
            await server.process.wait()
    return traffic


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    """Poll an observable state of the API until it holds, or fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def _list_group(queue: taskcluster.aio.Queue, group_id: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    query: dict[str, str] = {}
    while True:
        page = await queue.listTaskGroup(group_id, query=query)
        listed += page["tasks"]
        if not page.get("continuationToken"):
            return listed
        query = {"continuationToken": page["continuationToken"]}


def _assert_whole(status: dict[str, Any]) -> None:
    """A task created without dependencies has its first run from the moment it exists."""
    runs = status["runs"]
    assert runs, f"task {status['taskId']} has no run: half-created"
    assert [run["runId"] for run in runs] == list(range(len(runs)))
    assert all(run["state"] in ("completed", "failed", "exception") for run in runs[:-1])
    assert status["state"] == runs[-1]["state"]
    assert status["taskGroupId"] and status["taskQueueId"] == QUEUE_ID


def _expired_into_retry(status: dict[str, Any], run_id: int) -> bool:
    runs = status["runs"]
    if len(runs) <= run_id + 1:
        return False
    expired, retry = runs[run_id], runs[run_id + 1]
    return (
        (expired["state"], expired.get("reasonResolved")) == ("exception", "claim-expired")
        and retry["reasonCreated"] == "retry"
        and status["state"] == "pending"
    )


async def test_acknowledged_tasks_and_claims_survive_sigkill(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "queue.log"
    group_id = slugid.nice()

    async with running_server(data_dir, log) as server:
        traffic = await _traffic_until_killed(server, group_id)
    assert server.process.returncode == -9

    async with running_server(data_dir, log) as server, aiohttp.ClientSession() as session:
        queue = taskcluster.aio.Queue(server.options(), session=session)

        # Runs whose credentials are still valid are reported completed by their worker;
        # the others are left to expire. Both kinds must be there for the test to mean much.
        now = time.time()
        latest_first = sorted(traffic.claims, key=lambda c: c.taken_until, reverse=True)
        to_complete = [c for c in latest_first if c.taken_until - now > REPORT_MARGIN_S]
        to_complete = to_complete[: len(traffic.claims) // 2]
        to_expire = [c for c in traffic.claims if c not in to_complete]
        assert to_complete, "no claim had credentials valid long enough to report it"
        assert to_expire

        async def report(claim: Claim) -> None:
            worker = taskcluster.aio.Queue(server.options(claim.credentials), session=session)
            done = await worker.reportCompleted(claim.task_id, claim.run_id)
            assert done["status"]["state"] == "completed"
            assert done["status"]["runs"][claim.run_id]["state"] == "completed"

        async with asyncio.TaskGroup() as reports:
            for claim in to_complete:
                reports.create_task(report(claim))

        # Every createTask answered 200 before the kill: the task is there.
        for task_id in traffic.created:
            status = (await queue.status(task_id))["status"]
            _assert_whole(status)

        async def all_expired() -> bool:
            for claim in to_expire:
                status = (await queue.status(claim.task_id))["status"]
                if not _expired_into_retry(status, claim.run_id):
                    return False
            return True

        async def nothing_claimed() -> bool:
            counts = await queue.taskQueueCounts(QUEUE_ID)
            return bool(counts["claimedTasks"] == 0)

        # Runs claimed before the kill, answered or not, expire after the claim timeout.
        await _eventually(all_expired, CLAIM_TIMEOUT_S + 10, "claims to expire into retries")
        await _eventually(nothing_claimed, CLAIM_TIMEOUT_S + 10, "every claim to be resolved")

        for claim in to_complete:
            status = (await queue.status(claim.task_id))["status"]
            assert status["state"] == "completed"

        # No task is half-created: every task of the group is whole and consistent with its
        # own status, and the pending count matches the pending tasks.
        listed = await _list_group(queue, group_id)
        listed_ids = {entry["status"]["taskId"] for entry in listed}
        assert traffic.created <= listed_ids
        assert listed_ids <= set(traffic.definitions)
        for entry in listed:
            _assert_whole(entry["status"])
            assert entry["status"] == (await queue.status(entry["status"]["taskId"]))["status"]
        pending = sum(1 for entry in listed if entry["status"]["state"] == "pending")
        counts = await queue.taskQueueCounts(QUEUE_ID)
        assert (counts["pendingTasks"], counts["claimedTasks"]) == (pending, 0)

        # A createTask whose answer the kill swallowed can be retried: it is either whole
        # already (and the retry is idempotent) or was never written.
        for task_id in set(traffic.definitions) - traffic.created:
            retried = await queue.createTask(task_id, traffic.definitions[task_id])
            assert retried["status"]["taskId"] == task_id
