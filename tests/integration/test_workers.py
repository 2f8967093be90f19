"""Task queues, counts, pending and claimed listings, provisioners, worker types and workers."""

from __future__ import annotations

import datetime as dt

import pytest
import slugid
import taskcluster
from taskcluster.exceptions import TaskclusterRestFailure

from tests.conftest import RunningQueue
from tests.helpers import task_definition
from tests.integration.test_auth import make_client


@pytest.fixture
def queue_overrides() -> dict[str, object]:
    return {"claim_wait_s": 0.1}


@pytest.fixture
def q(queue: RunningQueue) -> taskcluster.Queue:
    return taskcluster.Queue(queue.root_options())


def test_counts_and_listings_follow_pending_and_claimed_runs(q: taskcluster.Queue) -> None:
    ids = [slugid.nice() for _ in range(5)]
    for index, task_id in enumerate(ids):
        q.createTask(
            task_id, task_definition("prov/count", priority="high" if index == 3 else "lowest")
        )
    claimed = q.claimWork("prov/count", {"workerGroup": "g", "workerId": "w1", "tasks": 2})["tasks"]
    assert [c["status"]["taskId"] for c in claimed] == [ids[3], ids[0]]
    counts = q.taskQueueCounts("prov/count")
    assert (counts["pendingTasks"], counts["claimedTasks"]) == (3, 2)
    assert q.pendingTasks("prov/count")["pendingTasks"] == 3
    batch = q.taskQueueCountsBatch({"taskQueueIds": ["prov/count", "prov/empty"]})[
        "taskQueueCounts"
    ]
    assert [(c["taskQueueId"], c["pendingTasks"]) for c in batch] == [
        ("prov/count", 3),
        ("prov/empty", 0),
    ]
    pending = q.listPendingTasks("prov/count", query={"limit": "2"})
    assert [t["taskId"] for t in pending["tasks"]] == [ids[1], ids[2]]
    rest = q.listPendingTasks(
        "prov/count", query={"continuationToken": pending["continuationToken"]}
    )
    assert [t["taskId"] for t in rest["tasks"]] == [ids[4]]
    assert rest["tasks"][0]["task"]["taskQueueId"] == "prov/count"
    listed = q.listClaimedTasks("prov/count")["tasks"]
    assert sorted(t["taskId"] for t in listed) == sorted([ids[3], ids[0]])
    assert {t["workerId"] for t in listed} == {"w1"}


def test_task_queues_provisioners_and_worker_types_appear_when_workers_claim(
    q: taskcluster.Queue,
) -> None:
    for queue_id in ("alpha/one", "alpha/two", "beta/three"):
        q.claimWork(queue_id, {"workerGroup": "g", "workerId": "w"})
    assert [t["taskQueueId"] for t in q.listTaskQueues()["taskQueues"]] == [
        "alpha/one",
        "alpha/two",
        "beta/three",
    ]
    assert q.getTaskQueue("alpha/two")["taskQueueId"] == "alpha/two"
    assert [p["provisionerId"] for p in q.listProvisioners()["provisioners"]] == ["alpha", "beta"]
    assert q.getProvisioner("beta")["provisionerId"] == "beta"
    assert [w["workerType"] for w in q.listWorkerTypes("alpha")["workerTypes"]] == ["one", "two"]
    assert q.getWorkerType("alpha", "one")["workerType"] == "one"
    for missing in (lambda: q.getTaskQueue("nobody/here"), lambda: q.getProvisioner("nobody")):
        with pytest.raises(TaskclusterRestFailure) as info:
            missing()
        assert info.value.status_code == 404


def test_workers_are_recorded_with_their_recent_tasks(q: taskcluster.Queue) -> None:
    task_id = slugid.nice()
    q.createTask(task_id, task_definition("prov/wk"))
    q.claimWork("prov/wk", {"workerGroup": "grp", "workerId": "one"})
    q.claimWork("prov/wk", {"workerGroup": "grp", "workerId": "two"})
    workers = q.listWorkers("prov", "wk")["workers"]
    assert [(w["workerGroup"], w["workerId"]) for w in workers] == [("grp", "one"), ("grp", "two")]
    assert workers[0]["latestTask"] == {"taskId": task_id, "runId": 0}
    worker = q.getWorker("prov", "wk", "grp", "one")
    assert worker["recentTasks"] == [{"taskId": task_id, "runId": 0}]
    assert worker["taskQueueId"] == "prov/wk"
    until = taskcluster.stringDate(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    q.quarantineWorker("prov", "wk", "grp", "two", {"quarantineUntil": until})
    assert [
        w["workerId"] for w in q.listWorkers("prov", "wk", query={"quarantined": "true"})["workers"]
    ] == ["two"]
    assert [
        w["workerId"]
        for w in q.listWorkers("prov", "wk", query={"quarantined": "false"})["workers"]
    ] == ["one"]
    with pytest.raises(TaskclusterRestFailure) as info:
        q.getWorker("prov", "wk", "grp", "nobody")
    assert info.value.status_code == 404


def test_declare_worker_creates_it_and_sets_its_expiry(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    expires = taskcluster.stringDate(dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    declared = q.declareWorker("prov", "decl", "grp", "w9", {"expires": expires})
    assert declared["workerId"] == "w9"
    assert declared["expires"][:16] == expires[:16]
    anonymous = taskcluster.Queue(queue.options())
    with pytest.raises(TaskclusterRestFailure) as info:
        anonymous.declareWorker("prov", "decl", "grp", "w9", {})
    assert "queue:declare-worker:prov/decl/grp/w9#expires" in info.value.body["message"]


HOST = {
    "hostname": "builder-7",
    "architecture": "x86_64",
    "system": "Linux",
    "cpuCount": 8,
    "memoryBytes": 16 * 2**30,
    "diskTotalBytes": 500 * 10**9,
    "diskFreeBytes": 120 * 10**9,
}


def test_a_worker_declares_its_host_with_the_host_scope(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    only_expires = make_client(
        queue, "decl/only-expires", ["queue:declare-worker:prov/decl/grp/w8#expires"]
    )
    limited = taskcluster.Queue(queue.options(only_expires))
    assert "host" not in limited.declareWorker("prov", "decl", "grp", "w8", {})
    with pytest.raises(TaskclusterRestFailure) as info:
        limited.declareWorker("prov", "decl", "grp", "w8", {"host": HOST})
    assert info.value.status_code == 403
    assert "queue:declare-worker:prov/decl/grp/w8#host" in info.value.body["message"]
    declared = q.declareWorker("prov", "decl", "grp", "w8", {"host": HOST})
    assert declared["host"] == HOST
    assert q.getWorker("prov", "decl", "grp", "w8")["host"] == HOST
    with pytest.raises(TaskclusterRestFailure) as bad:
        q.declareWorker("prov", "decl", "grp", "w8", {"host": {**HOST, "cpuCount": -1}})
    assert bad.value.status_code == 400
    assert "$.host.cpuCount" in bad.value.body["message"]
