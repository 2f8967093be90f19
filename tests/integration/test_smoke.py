import slugid
import taskcluster

from tests.conftest import RunningQueue
from tests.helpers import task_definition


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
