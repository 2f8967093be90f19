"""The queue exchange messages of each state change: bodies, routing keys and CCs."""

from __future__ import annotations

import slugid
import taskcluster

from tests.conftest import RunningQueue
from tests.helpers import task_definition


def test_lifecycle_publishes_each_exchange_with_its_routing_key(queue: RunningQueue) -> None:
    q = taskcluster.Queue(queue.root_options())
    task_id = slugid.nice()
    q.createTask(
        task_id, task_definition("prov/events", routes=["index.a.b", "notify.x"], tags={"k": "v"})
    )
    q.claimWork("prov/events", {"workerGroup": "wg", "workerId": "wi"})
    q.reportCompleted(task_id, 0)
    mine = [
        m
        for m in queue.messages
        if getattr(m.body, "status", None) and m.body.status.task_id == task_id
    ]  # type: ignore[union-attr]
    assert [m.exchange for m in mine] == [
        "task-defined",
        "task-pending",
        "task-running",
        "task-completed",
    ]
    keys = [m.routing_key for m in mine]
    assert keys[0] == f"primary.{task_id}._._._.prov.events.-.{task_id}._"
    assert keys[1] == f"primary.{task_id}.0._._.prov.events.-.{task_id}._"
    assert keys[2] == f"primary.{task_id}.0.wg.wi.prov.events.-.{task_id}._"
    assert keys[3] == keys[2]
    assert all(m.cc == ["route.index.a.b", "route.notify.x"] for m in mine)
    running = mine[2].body
    assert running.worker_group == "wg" and running.taken_until  # type: ignore[union-attr]
    assert running.task.tags == {"k": "v"}  # type: ignore[union-attr]
    assert mine[3].body.status.state == "completed"  # type: ignore[union-attr]
    assert mine[0].exchange_name == "exchange/taskcluster-queue/v1/task-defined"
