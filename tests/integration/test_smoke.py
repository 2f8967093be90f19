import datetime as dt

import slugid
import taskcluster

from tests.conftest import RunningQueue


def task_definition(queue_id: str = "prov/wt", **overrides: object) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    definition: dict[str, object] = {
        "taskQueueId": queue_id,
        "created": taskcluster.stringDate(now),
        "deadline": taskcluster.stringDate(now + dt.timedelta(hours=1)),
        "payload": {},
        "metadata": {
            "name": "t",
            "description": "d",
            "owner": "o@example.com",
            "source": "https://example.com",
        },
    }
    definition.update(overrides)
    return definition


def test_lifecycle(queue: RunningQueue) -> None:
    q = taskcluster.Queue(queue.root_options())
    task_id = slugid.nice()
    status = q.createTask(task_id, task_definition())
    assert status["status"]["state"] == "pending"
    claim = q.claimWork("prov/wt", {"workerGroup": "g", "workerId": "w", "tasks": 1})
    assert claim["tasks"][0]["status"]["taskId"] == task_id
    creds = claim["tasks"][0]["credentials"]
    wq = taskcluster.Queue(queue.options(creds))
    wq.reclaimTask(task_id, 0)
    done = wq.reportCompleted(task_id, 0)
    assert done["status"]["state"] == "completed"
