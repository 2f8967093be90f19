"""A claimed run to create artifacts for, with the official client, shared by the artifact tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import slugid
import taskcluster

from tests.conftest import RunningQueue
from tests.helpers import task_definition

__all__ = ["Run", "blob_files", "claimed_run", "expires_in", "put_bytes"]


@dataclass
class Run:
    """A running run: its ids and a Queue client holding its temporary credentials."""

    task_id: str
    run_id: int
    credentials: dict[str, str]  # the run's temporary credentials, as claimWork gave them
    worker: taskcluster.Queue  # signs with them
    root: taskcluster.Queue
    anonymous: taskcluster.Queue

    def create(self, name: str, **body: Any) -> dict[str, Any]:
        body.setdefault("expires", expires_in("1 day"))
        return self.worker.createArtifact(self.task_id, self.run_id, name, body)  # type: ignore[no-any-return]


def expires_in(delta: str) -> str:
    return str(taskcluster.fromNowJSON(delta))


def claimed_run(queue: RunningQueue, queue_id: str = "prov/artifacts", **task: Any) -> Run:
    root = taskcluster.Queue(queue.root_options())
    task_id = slugid.nice()
    root.createTask(task_id, task_definition(queue_id, **task))
    claim = root.claimWork(queue_id, {"workerGroup": "wg", "workerId": "wi", "tasks": 1})
    (claimed,) = claim["tasks"]
    assert claimed["status"]["taskId"] == task_id
    worker = taskcluster.Queue(queue.options(claimed["credentials"]))
    return Run(
        task_id,
        claimed["runId"],
        claimed["credentials"],
        worker,
        root,
        taskcluster.Queue(queue.options()),
    )


def put_bytes(
    url: str, data: bytes, content_type: str = "application/octet-stream", **headers: str
) -> requests.Response:
    return requests.put(
        url, data=data, headers={"Content-Type": content_type, **headers}, timeout=60
    )


def blob_files(queue: RunningQueue) -> list[Path]:
    """Every file under the blob directory (finished blobs and partial writes alike)."""
    root = queue.settings.blob_path
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []
