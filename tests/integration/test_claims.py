"""claimWork, reclaimTask, reports, retries, claim expiry and deadlines, with the official
client (sync and aio) and the per-run temporary credentials."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import aiohttp
import pytest
import slugid
import taskcluster
import taskcluster.aio
from taskcluster.exceptions import TaskclusterRestFailure

from clients import hawk
from queue_server.keys import BUS
from tests.conftest import RunningQueue
from tests.helpers import task_definition

WORKER = {"workerGroup": "g", "workerId": "w"}


@pytest.fixture
def queue_overrides() -> dict[str, object]:
    return {"claim_timeout_s": 2.0, "claim_wait_s": 3.0}


@pytest.fixture
def q(queue: RunningQueue) -> taskcluster.Queue:
    return taskcluster.Queue(queue.root_options())


def claim(
    q: taskcluster.Queue, count: int = 1, queue_id: str = "prov/wt"
) -> list[dict[str, object]]:
    return q.claimWork(queue_id, {**WORKER, "tasks": count})["tasks"]  # type: ignore[no-any-return]


def as_worker(queue: RunningQueue, claimed: dict[str, object]) -> taskcluster.Queue:
    return taskcluster.Queue(queue.options(claimed["credentials"]))  # type: ignore[arg-type]


async def test_waiting_claim_is_answered_when_a_task_is_created(queue: RunningQueue) -> None:
    options = queue.root_options()
    async with aiohttp.ClientSession() as session:
        q = taskcluster.aio.Queue(options, session=session)
        waiting = asyncio.create_task(q.claimWork("prov/waiting", {**WORKER, "tasks": 1}))
        await wait_for_waiters(queue, "prov/waiting", 1)
        task_id = slugid.nice()
        await q.createTask(task_id, task_definition("prov/waiting"))
        claims = (await waiting)["tasks"]
    assert [c["status"]["taskId"] for c in claims] == [task_id]


async def test_runs_created_together_reach_every_waiting_worker(queue: RunningQueue) -> None:
    """Each new run wakes one waiter; wake-ups are passed on, so none is left unheard."""
    options = queue.root_options()
    async with aiohttp.ClientSession() as session:
        q = taskcluster.aio.Queue(options, session=session)
        waiting = [
            asyncio.create_task(
                q.claimWork("prov/many", {"workerGroup": "g", "workerId": f"w{i}", "tasks": 1})
            )
            for i in range(5)
        ]
        await wait_for_waiters(queue, "prov/many", 5)
        created = [slugid.nice() for _ in range(5)]
        await asyncio.gather(*(q.createTask(i, task_definition("prov/many")) for i in created))
        answers = await asyncio.gather(*waiting)
    claimed = [c["status"]["taskId"] for answer in answers for c in answer["tasks"]]
    assert sorted(claimed) == sorted(created)


async def wait_for_waiters(queue: RunningQueue, queue_id: str, count: int) -> None:
    """Until `count` claimWork calls wait on the queue (the server's own count)."""
    bus = queue.runner.app[BUS]
    for _ in range(1000):
        if bus.waiting_count(queue_id) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{bus.waiting_count(queue_id)} waiters, wanted {count}")


def test_claims_come_highest_priority_first_then_oldest(q: taskcluster.Queue) -> None:
    ids = {}
    for name, priority in [("low1", "low"), ("high", "high"), ("low2", "low"), ("top", "highest")]:
        ids[name] = slugid.nice()
        q.createTask(ids[name], task_definition(priority=priority))
    order = [c["status"]["taskId"] for c in claim(q, 4)]
    assert order == [ids["top"], ids["high"], ids["low1"], ids["low2"]]


def test_claim_work_returns_at_most_the_requested_count(q: taskcluster.Queue) -> None:
    for _ in range(5):
        q.createTask(slugid.nice(), task_definition())
    assert len(claim(q, 3)) == 3
    assert len(claim(q, 32)) == 2


def test_claim_gives_run_credentials_that_reclaim_and_report(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    task_id = slugid.nice()
    q.createTask(task_id, task_definition(scopes=["secrets:get:x"]))
    (claimed,) = claim(q)
    creds = claimed["credentials"]
    assert creds["clientId"].startswith(f"task-client/{task_id}/0/on/g/w/until/")
    worker = as_worker(queue, claimed)
    reclaimed = worker.reclaimTask(task_id, 0)
    assert "task" not in reclaimed
    assert reclaimed["takenUntil"] >= claimed["takenUntil"]
    assert reclaimed["credentials"]["clientId"] != "" and reclaimed["runId"] == 0
    fresh = taskcluster.Queue(queue.options(reclaimed["credentials"]))
    assert fresh.reportCompleted(task_id, 0)["status"]["state"] == "completed"
    assert fresh.reportCompleted(task_id, 0)["status"]["state"] == "completed"  # idempotent
    with pytest.raises(TaskclusterRestFailure) as info:
        fresh.reportFailed(task_id, 0)
    assert info.value.status_code == 409


def test_run_credentials_do_not_reach_another_task(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    mine, other = slugid.nice(), slugid.nice()
    q.createTask(mine, task_definition())
    q.createTask(other, task_definition())
    first, second = claim(q, 2)
    worker = as_worker(queue, first)
    other_id = second["status"]["taskId"]
    with pytest.raises(TaskclusterRestFailure) as info:
        worker.reportCompleted(other_id, 0)
    assert info.value.status_code == 403
    assert f"queue:resolve-task:{other_id}/0" in info.value.body["message"]


@pytest.mark.parametrize(
    ("reason", "retried_as"),
    [
        ("worker-shutdown", "retry"),
        ("intermittent-task", "task-retry"),
        ("malformed-payload", None),
        ("internal-error", None),
        ("resource-unavailable", None),
    ],
)
def test_exception_reasons_retry_only_when_they_should(
    q: taskcluster.Queue, reason: str, retried_as: str | None
) -> None:
    task_id = slugid.nice()
    q.createTask(task_id, task_definition())
    claim(q)
    status = q.reportException(task_id, 0, {"reason": reason})["status"]
    assert status["runs"][0]["reasonResolved"] == reason
    if retried_as is None:
        assert (status["state"], len(status["runs"])) == ("exception", 1)
    else:
        assert status["runs"][1]["reasonCreated"] == retried_as
        assert (status["state"], status["retriesLeft"]) == ("pending", 4)


def test_no_retry_once_retries_are_spent(q: taskcluster.Queue) -> None:
    task_id = slugid.nice()
    q.createTask(task_id, task_definition(retries=0))
    claim(q)
    status = q.reportException(task_id, 0, {"reason": "worker-shutdown"})["status"]
    assert (status["state"], len(status["runs"])) == ("exception", 1)


def test_bad_exception_reason_is_400(q: taskcluster.Queue) -> None:
    task_id = slugid.nice()
    q.createTask(task_id, task_definition())
    claim(q)
    with pytest.raises(TaskclusterRestFailure) as info:
        q.reportException(task_id, 0, {"reason": "canceled"})
    assert info.value.status_code == 400
    assert "$.reason" in info.value.body["message"]


def test_unknown_run_is_404(q: taskcluster.Queue) -> None:
    task_id = slugid.nice()
    q.createTask(task_id, task_definition())
    with pytest.raises(TaskclusterRestFailure) as info:
        q.reportCompleted(task_id, 3)
    assert info.value.status_code == 404


def test_expired_claim_is_resolved_and_retried_within_seconds(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    task_id = slugid.nice()
    q.createTask(task_id, task_definition())
    (claimed,) = claim(q)
    taken_until = claimed["takenUntil"]
    expired = queue.wait_for_message(
        lambda m: m.exchange == "task-exception" and m.body.status.task_id == task_id  # type: ignore[union-attr]
    )
    run = expired.body.status.runs[0]  # type: ignore[union-attr]
    assert run.reason_resolved == "claim-expired"
    lateness = _ms(run.resolved) - _ms(taken_until)
    assert 0 <= lateness < 5000
    status = q.status(task_id)["status"]
    assert (status["state"], status["runs"][1]["reasonCreated"]) == ("pending", "retry")
    with pytest.raises(TaskclusterRestFailure) as info:
        as_worker(queue, claimed).reclaimTask(task_id, 0)
    assert info.value.status_code in (401, 409)  # credentials end at takenUntil too


def _ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_deadline_resolves_the_task_and_freezes_it(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    now = dt.datetime.now(dt.UTC)
    task_id = slugid.nice()
    deadline = now + dt.timedelta(seconds=1)
    q.createTask(
        task_id, task_definition(deadline=taskcluster.stringDate(deadline), dependencies=[task_id])
    )
    queue.wait_for_message(
        lambda m: m.exchange == "task-exception" and m.body.status.task_id == task_id  # type: ignore[union-attr]
    )
    status = q.status(task_id)["status"]
    assert status["runs"][0]["reasonResolved"] == "deadline-exceeded"
    assert status["runs"][0]["reasonCreated"] == "exception"
    for action in (q.scheduleTask, q.rerunTask, q.cancelTask):
        with pytest.raises(TaskclusterRestFailure) as info:
            action(task_id)
        assert info.value.status_code == 409, action


def test_claim_is_not_made_for_a_client_that_went_away(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    async def abandon_a_claim() -> None:
        url = f"{queue.root_url}/api/queue/v1/claim-work/prov%2Fgone"
        body = b'{"workerGroup":"g","workerId":"w","tasks":1}'
        creds = hawk.Credentials("root", queue.root_credentials["accessToken"])
        header = hawk.sign_header(
            creds, "POST", url, content_type="application/json", body=body, now=time.time()
        )
        async with aiohttp.ClientSession() as session:
            request = asyncio.create_task(
                session.post(
                    url,
                    data=body,
                    headers={"Authorization": header, "Content-Type": "application/json"},
                )
            )
            await wait_for_waiters(queue, "prov/gone", 1)
            request.cancel()
        await wait_for_waiters(queue, "prov/gone", 0)

    asyncio.run(abandon_a_claim())
    task_id = slugid.nice()
    q.createTask(task_id, task_definition("prov/gone"))
    assert q.status(task_id)["status"]["state"] == "pending"
    (claimed,) = claim(q, queue_id="prov/gone")
    assert (claimed["status"]["taskId"], claimed["runId"]) == (task_id, 0)


def test_quarantined_worker_gets_no_work(queue: RunningQueue, q: taskcluster.Queue) -> None:
    q.createTask(slugid.nice(), task_definition("prov/quar"))
    q.claimWork("prov/quar", {**WORKER, "tasks": 1})
    waiting = slugid.nice()
    q.createTask(waiting, task_definition("prov/quar"))
    until = taskcluster.stringDate(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    worker = q.quarantineWorker(
        "prov", "quar", "g", "w", {"quarantineUntil": until, "quarantineInfo": "bad disk"}
    )
    assert worker["quarantineDetails"][0]["quarantineInfo"] == "bad disk"
    short = taskcluster.Queue(queue.root_options())
    started = time.monotonic()
    assert short.claimWork("prov/quar", {**WORKER, "tasks": 1})["tasks"] == []
    assert time.monotonic() - started >= queue.settings.claim_wait_s - 1
    assert q.status(waiting)["status"]["runs"][0]["state"] == "pending"
