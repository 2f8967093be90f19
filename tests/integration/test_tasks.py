"""createTask, task, status, tasks, statuses, schedule, rerun, cancel, priority, dependencies,
driven with the official taskcluster client (sync)."""

from __future__ import annotations

import datetime as dt

import pytest
import slugid
import taskcluster
from taskcluster.exceptions import TaskclusterRestFailure

from tests.conftest import RunningQueue
from tests.helpers import task_definition


@pytest.fixture
def q(queue: RunningQueue) -> taskcluster.Queue:
    return taskcluster.Queue(queue.root_options())


def claim_one(q: taskcluster.Queue, queue_id: str = "prov/wt") -> dict[str, object]:
    claims = q.claimWork(queue_id, {"workerGroup": "g", "workerId": "w", "tasks": 1})["tasks"]
    assert len(claims) == 1, claims
    return claims[0]  # type: ignore[no-any-return]


def test_create_task_fills_defaults_and_answers_pending(q: taskcluster.Queue) -> None:
    task_id = slugid.nice()
    status = q.createTask(task_id, task_definition())["status"]
    assert status["state"] == "pending"
    assert status["retriesLeft"] == 5
    assert status["runs"][0]["reasonCreated"] == "scheduled"
    task = q.task(task_id)
    assert task["provisionerId"] == "prov" and task["workerType"] == "wt"
    assert task["taskGroupId"] == task_id
    assert task["schedulerId"] == "-" and task["projectId"] == "none"
    assert task["priority"] == "lowest" and task["requires"] == "all-completed"
    assert task["created"].endswith("Z") and len(task["created"]) == 24


def test_create_task_is_idempotent_and_conflicts_on_a_different_definition(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    task_id = slugid.nice()
    definition = task_definition()
    q.createTask(task_id, definition)
    again = q.createTask(task_id, definition)
    assert again["status"]["taskId"] == task_id
    defined = [m for m in queue.messages if m.exchange == "task-defined"]
    assert len(defined) == 1
    with pytest.raises(TaskclusterRestFailure) as info:
        q.createTask(task_id, {**definition, "priority": "high"})
    assert info.value.status_code == 409
    assert info.value.body["code"] == "RequestConflict"


def test_create_task_accepts_provisioner_and_worker_type(q: taskcluster.Queue) -> None:
    task_id = slugid.nice()
    definition = task_definition()
    del definition["taskQueueId"]
    definition.update(provisionerId="p1", workerType="w1")
    assert q.createTask(task_id, definition)["status"]["taskQueueId"] == "p1/w1"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            {"metadata": {"name": "x", "description": "", "owner": "o", "source": "ftp://x"}},
            "$.metadata.source",
        ),
        ({"priority": "urgent"}, "$.priority"),
        ({"retries": 50}, "$.retries"),
        ({"unknownField": 1}, "unknownField"),
        ({"routes": ["a"] * 65}, "$.routes"),
    ],
)
def test_invalid_task_answers_400_with_the_json_path(
    q: taskcluster.Queue, change: dict[str, object], path: str
) -> None:
    with pytest.raises(TaskclusterRestFailure) as info:
        q.createTask(slugid.nice(), task_definition(**change))
    assert info.value.status_code == 400
    assert info.value.body["code"] == "InputValidationError"
    assert path in info.value.body["message"]


def test_task_queue_must_be_given_and_consistent(q: taskcluster.Queue) -> None:
    definition = task_definition()
    del definition["taskQueueId"]
    with pytest.raises(TaskclusterRestFailure) as info:
        q.createTask(slugid.nice(), definition)
    assert info.value.status_code == 400
    assert "taskQueueId" in info.value.body["message"]
    with pytest.raises(TaskclusterRestFailure) as info:
        q.createTask(slugid.nice(), task_definition(provisionerId="other"))
    assert info.value.status_code == 400


def test_time_rules_are_enforced(q: taskcluster.Queue) -> None:
    now = dt.datetime.now(dt.UTC)
    cases = {
        "created": {"created": taskcluster.stringDate(now - dt.timedelta(minutes=20))},
        "deadline": {"deadline": taskcluster.stringDate(now + dt.timedelta(days=6))},
        "expires": {"expires": taskcluster.stringDate(now + dt.timedelta(minutes=5))},
    }
    for field, change in cases.items():
        with pytest.raises(TaskclusterRestFailure) as info:
            q.createTask(slugid.nice(), task_definition(**change))
        assert info.value.status_code == 400, field
        assert f"`{field}`" in info.value.body["message"]


def test_unknown_task_is_404_and_bad_task_id_is_400(q: taskcluster.Queue) -> None:
    with pytest.raises(TaskclusterRestFailure) as info:
        q.status(slugid.nice())
    assert info.value.status_code == 404
    assert info.value.body["code"] == "ResourceNotFound"
    with pytest.raises(TaskclusterRestFailure) as info:
        q.status("not-a-slugid")
    assert info.value.status_code == 400
    assert info.value.body["code"] == "InvalidRequestArguments"


def test_tasks_and_statuses_skip_unknown_ids_and_paginate(q: taskcluster.Queue) -> None:
    ids = [slugid.nice() for _ in range(5)]
    for task_id in ids:
        q.createTask(task_id, task_definition())
    asked = [*ids, slugid.nice()]
    page = q.statuses(payload={"taskIds": asked}, query={"limit": "4"})
    assert [s["taskId"] for s in page["statuses"]] == ids[:4]
    rest = q.statuses(
        payload={"taskIds": asked}, query={"continuationToken": page["continuationToken"]}
    )
    assert [s["taskId"] for s in rest["statuses"]] == ids[4:]
    assert "continuationToken" not in rest
    tasks = q.tasks({"taskIds": asked})
    assert [t["taskId"] for t in tasks["tasks"]] == ids


def test_dependent_waits_for_all_completed_dependencies(
    queue: RunningQueue, q: taskcluster.Queue
) -> None:
    first, second, dependent = slugid.nice(), slugid.nice(), slugid.nice()
    q.createTask(first, task_definition())
    q.createTask(second, task_definition())
    q.createTask(dependent, task_definition(dependencies=[first, second]))
    assert q.status(dependent)["status"]["state"] == "unscheduled"
    for _ in range(2):
        claim = claim_one(q)
        q.reportCompleted(claim["status"]["taskId"], claim["runId"])
    assert q.status(dependent)["status"]["state"] == "pending"
    dependents = q.listDependentTasks(first)
    assert [t["status"]["taskId"] for t in dependents["tasks"]] == [dependent]


def test_all_completed_dependent_stays_unscheduled_after_a_failure(q: taskcluster.Queue) -> None:
    required, dependent = slugid.nice(), slugid.nice()
    q.createTask(required, task_definition())
    q.createTask(dependent, task_definition(dependencies=[required]))
    claim = claim_one(q)
    q.reportFailed(required, claim["runId"])
    assert q.status(dependent)["status"]["state"] == "unscheduled"


def test_all_resolved_dependent_is_scheduled_after_a_failure(q: taskcluster.Queue) -> None:
    required, dependent = slugid.nice(), slugid.nice()
    q.createTask(required, task_definition())
    q.createTask(dependent, task_definition(dependencies=[required], requires="all-resolved"))
    claim = claim_one(q)
    q.reportFailed(required, claim["runId"])
    assert q.status(dependent)["status"]["state"] == "pending"


def test_dependency_already_completed_at_creation_counts_as_satisfied(q: taskcluster.Queue) -> None:
    required = slugid.nice()
    q.createTask(required, task_definition())
    q.reportCompleted(required, claim_one(q)["runId"])
    dependent = slugid.nice()
    status = q.createTask(dependent, task_definition(dependencies=[required]))["status"]
    assert status["state"] == "pending"


def test_missing_dependency_is_400_and_creates_nothing(q: taskcluster.Queue) -> None:
    missing, task_id = slugid.nice(), slugid.nice()
    with pytest.raises(TaskclusterRestFailure) as info:
        q.createTask(task_id, task_definition(dependencies=[missing]))
    assert info.value.status_code == 400
    assert missing in info.value.body["message"]
    with pytest.raises(TaskclusterRestFailure) as info:
        q.status(task_id)
    assert info.value.status_code == 404


def test_self_dependency_waits_for_schedule_task(q: taskcluster.Queue) -> None:
    task_id = slugid.nice()
    assert (
        q.createTask(task_id, task_definition(dependencies=[task_id]))["status"]["state"]
        == "unscheduled"
    )
    assert q.scheduleTask(task_id)["status"]["state"] == "pending"
    assert q.scheduleTask(task_id)["status"]["runs"][0]["reasonCreated"] == "scheduled"


def test_cancel_unscheduled_pending_and_running_tasks(q: taskcluster.Queue) -> None:
    unscheduled, pending, running = slugid.nice(), slugid.nice(), slugid.nice()
    q.createTask(running, task_definition())
    claim = claim_one(q)
    q.createTask(pending, task_definition())
    q.createTask(unscheduled, task_definition(dependencies=[unscheduled]))
    for task_id in (unscheduled, pending, running):
        run = q.cancelTask(task_id)["status"]["runs"][-1]
        assert (run["state"], run["reasonResolved"]) == ("exception", "canceled")
    assert q.status(unscheduled)["status"]["runs"][0]["reasonCreated"] == "exception"
    creds = taskcluster.Queue(
        {"rootUrl": q.options["rootUrl"], "credentials": claim["credentials"]}
    )
    with pytest.raises(TaskclusterRestFailure) as info:
        creds.reclaimTask(running, 0)
    assert info.value.status_code == 409
    assert q.cancelTask(pending)["status"]["state"] == "exception"  # idempotent


def test_rerun_adds_a_run_and_resets_retries(q: taskcluster.Queue) -> None:
    task_id = slugid.nice()
    q.createTask(task_id, task_definition(retries=1))
    claim = claim_one(q)
    q.reportException(task_id, claim["runId"], {"reason": "worker-shutdown"})
    assert q.status(task_id)["status"]["retriesLeft"] == 0
    q.reportFailed(task_id, claim_one(q)["runId"])
    status = q.rerunTask(task_id)["status"]
    assert status["state"] == "pending"
    assert status["runs"][-1]["reasonCreated"] == "rerun"
    assert status["retriesLeft"] == 1
    assert q.rerunTask(task_id)["status"]["runs"] == status["runs"]  # pending: idempotent


def test_change_task_priority_reorders_claims(queue: RunningQueue, q: taskcluster.Queue) -> None:
    low, high = slugid.nice(), slugid.nice()
    q.createTask(low, task_definition())
    q.createTask(high, task_definition())
    status = q.changeTaskPriority(high, {"newPriority": "highest"})["status"]
    assert status["priority"] == "highest"
    assert claim_one(q)["status"]["taskId"] == high
    changed = [m for m in queue.messages if m.exchange == "task-priority-changed"]
    assert changed[-1].body.old_priority == "lowest"  # type: ignore[union-attr]
