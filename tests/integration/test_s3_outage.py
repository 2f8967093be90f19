"""The S3 blob store failing while the queue runs (protocol.md §15.5): requests that need it
answer 503 BlobStoreUnavailable, which clients retry, and change nothing; once it is back the
same requests succeed. The queue here has an S3 server of its own (moto's, on port 0), which
the test stops and starts again on the same port: moto keeps its buckets in the process."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import taskcluster
from moto.server import ThreadedMotoServer
from taskcluster.exceptions import TaskclusterRestFailure

from tests.conftest import RunningQueue, queue_settings, start_queue, stop_queue
from tests.s3 import S3_ENV, MotoS3

from .artifact_helpers import claimed_run, expires_in, put_bytes


class Outage:
    """An S3 server that can be taken down and brought back at the same address."""

    def __init__(self) -> None:
        self.server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
        self.server.start()
        self.host, self.port = self.server.get_host_and_port()
        self.up = True

    def stop(self) -> None:
        self.server.stop()
        self.up = False

    def start(self) -> None:
        self.server = ThreadedMotoServer(self.host, self.port, verbose=False)
        self.server.start()
        self.up = True


@pytest.fixture
def outage(moto_s3: MotoS3) -> Iterator[Outage]:  # moto_s3: the AWS_* variables set
    s3 = Outage()
    try:
        yield s3
    finally:
        if s3.up:
            s3.server.stop()


@pytest.fixture
def s3_queue(tmp_path: Path, database_url: str | None, outage: Outage) -> Iterator[RunningQueue]:
    endpoint = f"http://{outage.host}:{outage.port}"
    url = MotoS3(endpoint).url()
    running, thread = start_queue(queue_settings(tmp_path, database_url, blob_store=url))
    try:
        yield running
    finally:
        stop_queue(running, thread)


def unavailable(call: Any, *args: Any) -> str:
    """The message of the 503 BlobStoreUnavailable the call answers."""
    with pytest.raises(TaskclusterRestFailure) as raised:
        call(*args)
    body = raised.value.body
    assert (raised.value.status_code, body["code"]) == (503, "BlobStoreUnavailable"), body
    message: str = body["message"]
    assert "blob store" in message and "is unavailable" in message
    assert "EndpointConnectionError" in message  # what failed, by its class
    for secret in S3_ENV["AWS_ACCESS_KEY_ID"], S3_ENV["AWS_SECRET_ACCESS_KEY"]:
        assert secret not in message
    assert "X-Amz" not in message and "incidentId" not in message
    return message


def test_a_failing_s3_answers_503_and_changes_nothing(
    s3_queue: RunningQueue, outage: Outage
) -> None:
    run = claimed_run(s3_queue)
    created = run.create("public/a.txt", storageType="s3", contentType="text/plain")
    assert put_bytes(created["putUrl"], b"artifact bytes", "text/plain").status_code == 200
    objects = taskcluster.Object(s3_queue.root_options())
    upload_id = taskcluster.slugId()
    upload = {
        "projectId": "p", "uploadId": upload_id, "expires": expires_in("1 hour"),
        "proposedUploadMethods": {"putUrl": {"contentType": "text/plain", "contentLength": 5}},
    }  # fmt: skip
    put = objects.createUpload("obj/put", upload)["uploadMethod"]["putUrl"]
    assert requests.put(put["url"], data=b"bytes", headers=put["headers"], timeout=30).ok
    finish = {"projectId": "p", "uploadId": upload_id}
    inline_id = taskcluster.slugId()
    inline = {
        "projectId": "p", "uploadId": inline_id, "expires": expires_in("1 hour"),
        "proposedUploadMethods": {"dataInline": {
            "contentType": "text/plain", "objectData": base64.b64encode(b"inline").decode()}},
    }  # fmt: skip

    outage.stop()
    # Taking the PUT bytes in needs S3: the first read and finishUpload.
    unavailable(run.anonymous.getArtifact, run.task_id, 0, "public/a.txt")
    unavailable(run.root.artifactInfo, run.task_id, 0, "public/a.txt")
    unavailable(objects.finishUpload, "obj/put", finish)
    unavailable(objects.createUpload, "obj/inline", inline)  # the queue stores inline bytes
    # Nothing changed: the artifact is not there yet, the upload is not finished.
    assert run.root.listArtifacts(run.task_id, 0)["artifacts"] == []
    with pytest.raises(TaskclusterRestFailure) as raised:
        objects.startDownload("obj/put", {"acceptDownloadMethods": {"getUrl": True}})
    assert raised.value.status_code == 404
    # Presigning is the queue's own computation: a new s3 artifact is created all the same.
    later = run.create("public/b.txt", storageType="s3", contentType="text/plain")
    assert later["putUrl"].startswith(f"http://{outage.host}:{outage.port}/")

    outage.start()
    got = run.anonymous.getArtifact(run.task_id, 0, "public/a.txt")
    assert requests.get(got["url"], timeout=30).content == b"artifact bytes"
    objects.finishUpload("obj/put", finish)
    started = objects.startDownload("obj/put", {"acceptDownloadMethods": {"getUrl": True}})
    assert requests.get(started["url"], timeout=30).content == b"bytes"
    objects.createUpload("obj/inline", inline)
    objects.finishUpload("obj/inline", {"projectId": "p", "uploadId": inline_id})
    started = objects.startDownload("obj/inline", {"acceptDownloadMethods": {"getUrl": True}})
    assert requests.get(started["url"], timeout=30).content == b"inline"
    assert put_bytes(later["putUrl"], b"later", "text/plain").status_code == 200
    listed = run.root.listArtifacts(run.task_id, 0)["artifacts"]
    assert sorted(a["name"] for a in listed) == ["public/a.txt", "public/b.txt"]
