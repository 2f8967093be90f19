"""Task groups: listing with pagination, sealing, canceling, priority, group resolution."""

from __future__ import annotations

import pytest
import slugid
import taskcluster
from taskcluster.exceptions import TaskclusterRestFailure

from tests.conftest import RunningQueue
from tests.helpers import task_definition


@pytest.fixture
def q(queue: RunningQueue) -> taskcluster.Queue:
    return taskcluster.Queue(queue.root_options())


def make_group(q: taskcluster.Queue, size: int, **overrides: object) -> tuple[str, list[str]]:
    group = slugid.nice()
    ids = sorted(slugid.nice() for _ in range(size))
    for task_id in ids:
        q.createTask(task_id, task_definition(taskGroupId=group, **overrides))
    return group, ids


def test_list_task_group_pages_through_every_task(q: taskcluster.Queue) -> None:
    group, ids = make_group(q, 7)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = {"limit": "3", **({"continuationToken": token} if token else {})}
        page = q.listTaskGroup(group, query=query)
        seen += [t["status"]["taskId"] for t in page["tasks"]]
        pages += 1
        token = page.get("continuationToken")
        if not token:
            break
    assert seen == ids and pages == 3
    collected: list[str] = []
    q.listTaskGroup(
        group,
        paginationHandler=lambda page: collected.extend(
            t["status"]["taskId"] for t in page["tasks"]
        ),
    )
    assert collected == ids


def test_bad_continuation_token_and_limit_are_400(q: taskcluster.Queue) -> None:
    group, _ = make_group(q, 1)
    for query in ({"continuationToken": "%%%"}, {"limit": "0"}, {"limit": "x"}):
        with pytest.raises(TaskclusterRestFailure) as info:
            q.listTaskGroup(group, query=query)
        assert info.value.status_code == 400, query


def test_scheduler_id_must_match_within_a_group(q: taskcluster.Queue) -> None:
    group, _ = make_group(q, 1, schedulerId="one")
    with pytest.raises(TaskclusterRestFailure) as info:
        q.createTask(slugid.nice(), task_definition(taskGroupId=group, schedulerId="two"))
    assert info.value.status_code == 409


def test_sealed_group_refuses_new_tasks_and_can_be_canceled(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    group, ids = make_group(q, 3)
    with pytest.raises(TaskclusterRestFailure) as info:
        q.cancelTaskGroup(group)
    assert info.value.status_code == 409
    sealed = q.sealTaskGroup(group)
    assert "sealed" in sealed
    assert q.sealTaskGroup(group)["sealed"] == sealed["sealed"]
    assert q.getTaskGroup(group)["sealed"] == sealed["sealed"]
    with pytest.raises(TaskclusterRestFailure) as info:
        q.createTask(slugid.nice(), task_definition(taskGroupId=group))
    assert info.value.status_code == 409
    canceled = q.cancelTaskGroup(group)
    assert canceled["taskGroupSize"] == 3 and canceled["cancelledCount"] == 3
    assert sorted(canceled["taskIds"]) == ids
    exchanges = [m.exchange for m in queue.messages]
    assert "task-group-sealed" in exchanges
    assert exchanges[-1] == "task-group-resolved"


def test_group_resolves_when_its_last_task_resolves(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    group, ids = make_group(q, 2)
    first, second = q.claimWork("prov/wt", {"workerGroup": "g", "workerId": "w", "tasks": 2})[
        "tasks"
    ]
    q.reportCompleted(first["status"]["taskId"], 0)
    assert not [m for m in queue.messages if m.exchange == "task-group-resolved"]
    q.reportFailed(second["status"]["taskId"], 0)
    resolved = [m for m in queue.messages if m.exchange == "task-group-resolved"]
    assert len(resolved) == 1
    assert resolved[0].routing_key == f"primary.{group}.-._"
    q.rerunTask(ids[0])
    q.reportCompleted(
        ids[0], q.claimWork("prov/wt", {"workerGroup": "g", "workerId": "w"})["tasks"][0]["runId"]
    )
    assert len([m for m in queue.messages if m.exchange == "task-group-resolved"]) == 2


def test_change_task_group_priority_changes_unresolved_tasks(q: taskcluster.Queue) -> None:
    group, _ = make_group(q, 3)
    claimed = q.claimWork("prov/wt", {"workerGroup": "g", "workerId": "w"})["tasks"][0]
    q.reportCompleted(claimed["status"]["taskId"], 0)
    changed = q.changeTaskGroupPriority(group, {"newPriority": "high"})
    assert changed["tasksAffected"] == 2
    assert claimed["status"]["taskId"] not in changed["taskIds"]
    for task_id in changed["taskIds"]:
        assert q.status(task_id)["status"]["priority"] == "high"


def test_cancel_task_group_leaves_no_half_written_dependent(q: taskcluster.Queue) -> None:
    group = slugid.nice()
    first, second = sorted(slugid.nice() for _ in range(2))
    q.createTask(first, task_definition(taskGroupId=group))
    q.createTask(
        second, task_definition(taskGroupId=group, dependencies=[first], requires="all-resolved")
    )
    q.sealTaskGroup(group)
    canceled = q.cancelTaskGroup(group)
    assert sorted(canceled["taskIds"]) == [first, second]
    runs = q.status(second)["status"]["runs"]
    assert [(r["state"], r["reasonCreated"]) for r in runs][-1][0] == "exception"
    assert all(r["state"] != "pending" for r in runs)
    assert q.pendingTasks("prov/wt")["pendingTasks"] == 0
