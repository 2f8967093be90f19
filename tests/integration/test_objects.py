"""Object artifacts and the Object service subset with the official client's helpers,
`taskcluster.upload` and `taskcluster.download`, sync and aio."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import taskcluster
import taskcluster.aio
import taskcluster.aio.download
import taskcluster.aio.upload
import taskcluster.download
import taskcluster.upload
from taskcluster.exceptions import TaskclusterRestFailure

from clients.protocol.events import ArtifactCreated, Exchange
from tests.conftest import RunningQueue
from tests.s3 import both_blob_stores

from .artifact_helpers import Run, claimed_run, expires_in

# Every test on the local-disk store and on S3 (moto): the same helpers, the same checks.
pytestmark = both_blob_stores

SIZES = [0, 1, 8191, 8192, 1024 * 1024]  # 8191 goes inline, 8192 by putUrl


@pytest.fixture
def run(queue: RunningQueue) -> Run:
    return claimed_run(queue)


def object_artifact(queue: RunningQueue, run: Run, name: str, **extra: Any) -> dict[str, Any]:
    created = run.create(name, storageType="object", contentType="application/x-data", **extra)
    assert created["name"] == f"t/{run.task_id}/0/{name}"
    assert created["projectId"] == "none"
    return created


def object_service(queue: RunningQueue, credentials: dict[str, str]) -> taskcluster.Object:
    return taskcluster.Object(queue.options(credentials))


def upload_kwargs(created: dict[str, Any], size: int) -> dict[str, Any]:
    return {
        "projectId": created["projectId"],
        "name": created["name"],
        "contentType": "application/x-data",
        "contentLength": size,
        "expires": created["expires"],
        "uploadId": created["uploadId"],
    }


@pytest.mark.parametrize("size", SIZES)
def test_the_sync_helpers_round_trip_an_object_artifact(
    queue: RunningQueue, run: Run, size: int
) -> None:
    data = os.urandom(size)
    name = f"public/sync-{size}.bin"
    created = object_artifact(queue, run, name)
    taskcluster.upload.uploadFromBuf(
        **upload_kwargs(created, size),
        objectService=object_service(queue, created["credentials"]),
        data=data,
    )
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, name) == 404  # not finished
    run.worker.finishArtifact(run.task_id, 0, name, {"uploadId": created["uploadId"]})
    buf, content_type = taskcluster.download.downloadArtifactToBuf(
        taskId=run.task_id, runId=0, name=name, queueService=run.anonymous
    )
    assert (bytes(buf), content_type) == (data, "application/x-data")
    sink = io.BytesIO()
    taskcluster.download.downloadArtifactToFile(
        file=sink, taskId=run.task_id, name=name, queueService=run.anonymous
    )
    assert sink.getvalue() == data
    metadata = taskcluster.Object(queue.root_options()).object(created["name"])
    assert metadata["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert metadata["hashes"]["sha512"] == hashlib.sha512(data).hexdigest()


@pytest.mark.parametrize("size", SIZES)
async def test_the_aio_helpers_round_trip_an_object_artifact(
    queue: RunningQueue, run: Run, size: int, tmp_path: Path
) -> None:
    data = os.urandom(size)
    source = tmp_path / "source"
    source.write_bytes(data)
    name = f"private/aio-{size}.bin"
    created = object_artifact(queue, run, name)
    async with aiohttp.ClientSession() as session:
        objects = taskcluster.aio.Object(queue.options(created["credentials"]), session=session)
        with source.open("rb") as file:
            await taskcluster.aio.upload.uploadFromFile(
                **upload_kwargs(created, size), objectService=objects, file=file
            )
        worker = taskcluster.aio.Queue(queue.options(run.credentials), session=session)
        await worker.finishArtifact(run.task_id, 0, name, {"uploadId": created["uploadId"]})
        root = taskcluster.aio.Queue(queue.root_options(), session=session)
        buf, _ = await taskcluster.aio.download.downloadArtifactToBuf(
            taskId=run.task_id, runId=0, name=name, queueService=root
        )
        assert bytes(buf) == data
        target = tmp_path / "target"
        with target.open("wb") as file:
            await taskcluster.aio.download.downloadArtifactToFile(
                file=file, taskId=run.task_id, name=name, queueService=root
            )
    assert target.read_bytes() == data


def status_of(call: object, *args: object) -> int:
    with pytest.raises(TaskclusterRestFailure) as raised:
        call(*args)  # type: ignore[operator]
    return raised.value.status_code  # type: ignore[no-any-return]


def test_finish_artifact_publishes_and_refuses_what_is_not_ready(
    queue: RunningQueue, run: Run
) -> None:
    created = object_artifact(queue, run, "public/o")
    finish = run.worker.finishArtifact
    assert status_of(finish, run.task_id, 0, "public/o", {"uploadId": created["uploadId"]}) == 400
    other = taskcluster.slugId()
    taskcluster.upload.uploadFromBuf(
        **upload_kwargs(created, 3),
        objectService=object_service(queue, created["credentials"]),
        data=b"abc",
    )
    assert status_of(finish, run.task_id, 0, "public/o", {"uploadId": other}) == 400
    assert finish(run.task_id, 0, "public/o", {"uploadId": created["uploadId"]}) is None
    assert finish(run.task_id, 0, "public/o", {"uploadId": created["uploadId"]}) is None
    events = [
        m
        for m in queue.messages
        if m.exchange is Exchange.artifact_created
        and isinstance(m.body, ArtifactCreated)
        and m.body.status.task_id == run.task_id
    ]
    assert [m.body.artifact.storage_type for m in events] == ["object", "object"]  # type: ignore[union-attr]
    run.create("public/r", storageType="reference", url="https://x/", contentType="a/b")
    assert status_of(finish, run.task_id, 0, "public/r", {"uploadId": other}) == 400
    assert status_of(finish, run.task_id, 0, "public/none", {"uploadId": other}) == 404
    # A repeated createArtifact answers the same upload, with fresh credentials.
    again = object_artifact(queue, run, "public/o")
    assert again["uploadId"] == created["uploadId"]


def test_upload_credentials_are_for_one_object(queue: RunningQueue, run: Run) -> None:
    created = object_artifact(queue, run, "public/mine")
    objects = object_service(queue, created["credentials"])
    body = {
        "projectId": "none",
        "uploadId": taskcluster.slugId(),
        "expires": created["expires"],
        "proposedUploadMethods": {},
    }
    assert status_of(objects.createUpload, f"t/{run.task_id}/0/public/other", body) == 403
    assert (
        status_of(
            objects.startDownload, created["name"], {"acceptDownloadMethods": {"getUrl": True}}
        )
        == 403
    )


def test_the_object_service_checks_uploads(queue: RunningQueue) -> None:
    objects = taskcluster.Object(queue.root_options())
    upload_id = taskcluster.slugId()
    expires = expires_in("1 hour")
    data = b"some object data"
    answer = objects.createUpload("plain/object", {
        "projectId": "proj", "uploadId": upload_id, "expires": expires,
        "proposedUploadMethods": {"putUrl": {"contentType": "text/plain", "contentLength": len(data)}},
    })  # fmt: skip
    put = answer["uploadMethod"]["putUrl"]
    assert put["headers"] == {"Content-Type": "text/plain", "Content-Length": str(len(data))}
    other = {
        "projectId": "proj",
        "uploadId": taskcluster.slugId(),
        "expires": expires,
        "proposedUploadMethods": {},
    }
    assert status_of(objects.createUpload, "plain/object", other) == 409
    assert (
        requests.put(put["url"], data=data, headers=put["headers"], timeout=30).status_code == 200
    )
    wrong = {"projectId": "proj", "uploadId": upload_id, "hashes": {"sha256": "0" * 64}}
    assert status_of(objects.finishUpload, "plain/object", wrong) == 400
    assert (
        status_of(
            objects.startDownload, "plain/object", {"acceptDownloadMethods": {"getUrl": True}}
        )
        == 404
    )
    right = {"sha256": hashlib.sha256(data).hexdigest()}
    objects.finishUpload(
        "plain/object", {"projectId": "proj", "uploadId": upload_id, "hashes": right}
    )
    objects.finishUpload(
        "plain/object", {"projectId": "proj", "uploadId": upload_id, "hashes": right}
    )
    assert status_of(objects.createUpload, "plain/object", {**other, "uploadId": upload_id}) == 409
    assert status_of(objects.startDownload, "plain/object", {"acceptDownloadMethods": {}}) == 406
    simple = objects.startDownload(
        "plain/object", {"acceptDownloadMethods": {"simple": True, "getUrl": True}}
    )
    assert simple["method"] == "simple"
    assert requests.get(simple["url"], timeout=30).content == data
    buf, content_type = taskcluster.download.downloadToBuf(
        name="plain/object", objectService=objects
    )
    assert (bytes(buf), content_type) == (data, "text/plain")


def test_inline_data_must_be_base64_and_small(queue: RunningQueue) -> None:
    objects = taskcluster.Object(queue.root_options())
    body = {"projectId": "p", "uploadId": taskcluster.slugId(), "expires": expires_in("1 hour")}
    bad = {
        **body,
        "proposedUploadMethods": {"dataInline": {"contentType": "a/b", "objectData": "!!"}},
    }
    assert status_of(objects.createUpload, "inline/bad", bad) == 400
    big = base64.b64encode(b"x" * 8200).decode()
    large = {
        **body,
        "proposedUploadMethods": {"dataInline": {"contentType": "a/b", "objectData": big}},
    }
    assert status_of(objects.createUpload, "inline/big", large) == 400
