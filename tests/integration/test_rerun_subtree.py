"""rerunSubtree: a failed task and what depends on it rebuilt, dependents released only after
their rerun dependencies complete (protocol.md, "rerunSubtree")."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
import slugid
import taskcluster

from clients import hawk
from clients.client import InsufficientScopes, Options, Queue, RequestConflict, RetryPolicy
from tests.conftest import ROOT_TOKEN, RunningQueue
from tests.helpers import task_definition

GROUP = slugid.nice()


@pytest.fixture
def q(queue: RunningQueue) -> taskcluster.Queue:
    return taskcluster.Queue(queue.root_options())


def _create(q: taskcluster.Queue, label: str, *deps: str, requires: str = "all-completed") -> str:
    task_id = slugid.nice()
    q.createTask(
        task_id,
        task_definition(
            f"test/{label}", taskGroupId=GROUP, dependencies=list(deps), requires=requires
        ),
    )
    return task_id


def _resolve(q: taskcluster.Queue, label: str, task_id: str, outcome: str) -> None:
    """Each task has a queue of its own, so claiming it takes exactly that task."""
    claim = {"workerGroup": "g", "workerId": "w", "tasks": 1}
    [claimed] = q.claimWork(f"test/{label}", claim)["tasks"]
    assert claimed["status"]["taskId"] == task_id
    run_id = claimed["runId"]
    (q.reportCompleted if outcome == "completed" else q.reportFailed)(task_id, run_id)


def _state(q: taskcluster.Queue, task_id: str) -> tuple[str, int]:
    status = q.status(task_id)["status"]
    return status["state"], len(status["runs"])


def test_a_failed_subtree_reruns_in_dependency_order_and_leaves_the_rest_alone(
    q: taskcluster.Queue, queue: RunningQueue
) -> None:
    a = _create(q, "a")
    b = _create(q, "b", a)
    c = _create(q, "c", b)  # waits on b, which fails
    d = _create(q, "d", b, requires="all-resolved")  # runs after b fails, completes
    e = _create(q, "e", a)  # outside b's subtree
    _resolve(q, "a", a, "completed")
    _resolve(q, "e", e, "completed")
    _resolve(q, "b", b, "failed")
    _resolve(q, "d", d, "completed")
    assert _state(q, c) == ("unscheduled", 0)

    # A caller allowed to rerun b but not d is refused, and nothing changes.
    auth = taskcluster.Auth(queue.root_options())
    limited = auth.createClient(
        "rerun-b-only",
        {
            "expires": taskcluster.stringDate(taskcluster.fromNow("1 hour")),
            "scopes": [f"queue:rerun-task:-/{GROUP}/{b}"],
        },
    )
    creds = {"clientId": limited["clientId"], "accessToken": limited["accessToken"]}
    with pytest.raises(InsufficientScopes) as refused:
        _rerun_subtree(queue, b, hawk.Credentials(creds["clientId"], creds["accessToken"]))
    assert d in refused.value.message
    assert _state(q, b) == ("failed", 1) and _state(q, d) == ("completed", 1)

    answer = _rerun_subtree(queue, b)
    assert answer["status"]["state"] == "pending" and answer["waiting"] == [d]
    assert answer["status"]["runs"][-1]["reasonCreated"] == "rerun"
    # d completed before; now it waits for b's rerun, keeping its first run.
    assert _state(q, d) == ("unscheduled", 1)
    assert _state(q, c) == ("unscheduled", 0)
    assert q.pendingTasks("test/d")["pendingTasks"] == 0

    _resolve(q, "b", b, "completed")
    assert _state(q, c) == ("pending", 1)
    assert _state(q, d) == ("pending", 2)
    assert q.status(d)["status"]["runs"][1]["reasonCreated"] == "rerun"
    assert _state(q, a) == ("completed", 1) and _state(q, e) == ("completed", 1)
    _resolve(q, "d", d, "completed")
    _resolve(q, "c", c, "completed")
    assert q.getTaskGroup(GROUP)["taskGroupId"] == GROUP
    queue.wait_for_message(
        lambda m: m.exchange.value == "task-group-resolved" and m.body.task_group_id == GROUP
    )


def test_a_subtree_with_running_or_unresolved_tasks_is_refused_whole(
    q: taskcluster.Queue, queue: RunningQueue
) -> None:
    a = _create(q, "a2")
    b = _create(q, "b2", a)
    with pytest.raises(RequestConflict) as unresolved:
        _rerun_subtree(queue, a)
    assert "not resolved" in unresolved.value.message
    _resolve(q, "a2", a, "failed")
    q.scheduleTask(b)  # b runs although a failed
    with pytest.raises(RequestConflict) as busy:
        _rerun_subtree(queue, a)
    assert b in busy.value.message
    assert _state(q, a) == ("failed", 1)


def _rerun_subtree(
    queue: RunningQueue, task_id: str, credentials: hawk.Credentials | None = None
) -> dict[str, Any]:
    """Through the typed client: the official one has no method for the extension."""
    creds = credentials or hawk.Credentials("root", ROOT_TOKEN)

    async def call() -> dict[str, Any]:
        async with Queue(Options(queue.root_url, creds, retry=RetryPolicy(0))) as client:
            return msgspec.to_builtins(await client.rerun_subtree(task_id))  # type: ignore[no-any-return]

    return asyncio.run(call())
