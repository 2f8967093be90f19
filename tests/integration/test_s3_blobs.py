"""The S3 blob store (queue_server/artifacts/s3.py) against moto's S3 server: the queue hands
out the store's own presigned URLs, bytes go between the clients and S3 only, what was PUT is
checked (length, SHA-256) before it becomes an artifact or object, expiry deletes it from the
bucket (test_s3_config: a configuration that cannot work stops the queue at startup).

The shared artifact and object suites (test_artifacts, test_artifact_client, test_objects) run
on this store too; this module holds what differs from the local-disk store."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import os
from pathlib import Path

import aiohttp
import pytest
import requests
import taskcluster
import taskcluster.download
import taskcluster.upload
from taskcluster.exceptions import TaskclusterRestFailure

from clients import hawk
from clients.client import InputError, Options, Queue
from queue_server.keys import BLOBS, STORE
from queue_server.resolvers import sweep_artifacts
from tests.conftest import RunningQueue
from tests.s3 import MotoS3
from tests.workers import (
    artifact_path,
    create,
    payload,
    resolution,
    running_worker,
    worker_settings,
)
from tests.workers import task_log as worker_task_log

from .artifact_helpers import Run, claimed_run, expires_in, put_bytes

pytestmark = pytest.mark.parametrize("blob_store", ["s3"], indirect=True)


@pytest.fixture
def run(queue: RunningQueue) -> Run:
    return claimed_run(queue)


def worker_client(queue: RunningQueue, run: Run) -> Queue:
    given = run.credentials
    credentials = hawk.Credentials(given["clientId"], given["accessToken"], given["certificate"])
    return Queue(Options(queue.root_url, credentials))


def status_of(call: object, *args: object) -> int:
    with pytest.raises(TaskclusterRestFailure) as raised:
        call(*args)  # type: ignore[operator]
    return raised.value.status_code  # type: ignore[no-any-return]


def on_s3(url: str, moto_s3: MotoS3) -> bool:
    return url.startswith(f"{moto_s3.endpoint}/") and "X-Amz-Signature=" in url


def s3_keys(queue: RunningQueue, moto_s3: MotoS3) -> list[str]:
    assert queue.settings.blob_store is not None
    return moto_s3.keys(queue.settings.blob_store)


def test_an_s3_artifact_goes_to_and_comes_from_s3_directly(
    queue: RunningQueue, run: Run, moto_s3: MotoS3
) -> None:
    data = os.urandom(70_000)
    created = run.create("public/app.bin", storageType="s3", contentType="application/x-app")
    assert on_s3(created["putUrl"], moto_s3)
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/app.bin") == 404
    assert put_bytes(created["putUrl"], data, "application/x-app").status_code == 200
    # The queue takes the bytes in when the artifact is first asked for.
    got = run.anonymous.getArtifact(run.task_id, 0, "public/app.bin")
    assert on_s3(got["url"], moto_s3)
    fetched = requests.get(got["url"], timeout=30)
    assert (fetched.content, fetched.headers["Content-Type"]) == (data, "application/x-app")
    assert fetched.headers["Cache-Control"] == "private"
    part = requests.get(got["url"], headers={"Range": "bytes=100-199"}, timeout=30)
    assert (part.status_code, part.content) == (206, data[100:200])
    listed = run.root.listArtifacts(run.task_id, 0)["artifacts"]
    assert [a["name"] for a in listed] == ["public/app.bin"]
    # The upload's key is gone; the object keeps a copy of its own, under the prefix.
    (key,) = s3_keys(queue, moto_s3)
    assert key.startswith("blobs/") and not key.startswith("blobs/u/")


def test_an_s3_artifact_is_listed_once_its_bytes_are_in_the_store(run: Run) -> None:
    created = run.create("public/listed", storageType="s3", contentType="text/plain")
    assert run.root.listArtifacts(run.task_id, 0)["artifacts"] == []
    assert put_bytes(created["putUrl"], b"listed", "text/plain").status_code == 200
    listed = run.root.listArtifacts(run.task_id, 0)["artifacts"]
    assert [(a["name"], a["storageType"]) for a in listed] == [("public/listed", "s3")]


def test_stored_bytes_never_change_though_the_put_url_still_works(
    queue: RunningQueue, run: Run, moto_s3: MotoS3
) -> None:
    created = run.create("public/once", storageType="s3", contentType="text/plain")
    assert put_bytes(created["putUrl"], b"first", "text/plain").status_code == 200
    url = run.anonymous.getArtifact(run.task_id, 0, "public/once")["url"]
    assert put_bytes(created["putUrl"], b"other", "text/plain").status_code == 200  # S3 takes it
    again = run.anonymous.getArtifact(run.task_id, 0, "public/once")["url"]
    assert requests.get(url, timeout=30).content == b"first"
    assert requests.get(again, timeout=30).content == b"first"
    # The stray PUT is noted loose, and deleted once its URL can no longer be used.
    far = int(taskcluster.fromNow("30 days").timestamp() * 1000)
    queue.call(sweep_artifacts(queue.runner.app[STORE], queue.runner.app[BLOBS], far))
    assert [k for k in s3_keys(queue, moto_s3) if k.startswith("blobs/u/")] == []


def test_gzip_bytes_are_served_with_their_encoding(run: Run) -> None:
    text = b"line of a log\n" * 1000
    packed = gzip.compress(text)
    created = run.create("public/logs/live.log", storageType="s3", contentType="text/plain")
    sent = put_bytes(created["putUrl"], packed, "text/plain", **{"Content-Encoding": "gzip"})
    assert sent.status_code == 200
    url = run.anonymous.getArtifact(run.task_id, 0, "public/logs/live.log")["url"]
    raw = requests.get(url, stream=True, timeout=30)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert raw.raw.read() == packed
    assert requests.get(url, timeout=30).content == text


def test_a_put_of_another_length_is_refused_and_deleted(
    queue: RunningQueue, run: Run, moto_s3: MotoS3
) -> None:
    created = run.create(
        "public/sized", storageType="s3", contentType="text/plain", contentLength=5
    )
    # moto does not check the signed Content-Length as S3 does; the queue checks it again.
    assert put_bytes(created["putUrl"], b"too long", "text/plain").status_code == 200
    with pytest.raises(TaskclusterRestFailure) as raised:
        run.root.artifactInfo(run.task_id, 0, "public/sized")
    assert raised.value.status_code == 400
    assert "has 8 bytes; 5 were declared" in raised.value.body["message"]
    assert status_of(run.anonymous.getArtifact, run.task_id, 0, "public/sized") == 404
    assert s3_keys(queue, moto_s3) == []
    assert put_bytes(created["putUrl"], b"right", "text/plain").status_code == 200
    url = run.anonymous.getArtifact(run.task_id, 0, "public/sized")["url"]
    assert requests.get(url, timeout=30).content == b"right"


def test_object_uploads_of_another_length_or_hash_are_refused(queue: RunningQueue) -> None:
    objects = taskcluster.Object(queue.root_options())
    upload_id = taskcluster.slugId()
    data = b"object data"
    answer = objects.createUpload("plain/checked", {
        "projectId": "proj", "uploadId": upload_id, "expires": expires_in("1 hour"),
        "proposedUploadMethods": {"putUrl": {"contentType": "text/plain", "contentLength": len(data)}},
    })  # fmt: skip
    put = answer["uploadMethod"]["putUrl"]
    right = {"sha256": hashlib.sha256(data).hexdigest()}
    finish = {"projectId": "proj", "uploadId": upload_id, "hashes": right}
    headers = {"Content-Type": "text/plain"}
    assert requests.put(put["url"], data=data + b"!", headers=headers, timeout=30).ok
    assert status_of(objects.finishUpload, "plain/checked", finish) == 400
    same_length = b"OBJECT DATA"
    assert requests.put(put["url"], data=same_length, headers=headers, timeout=30).ok
    assert status_of(objects.finishUpload, "plain/checked", finish) == 400  # not its sha256
    assert requests.put(put["url"], data=data, headers=headers, timeout=30).ok
    objects.finishUpload("plain/checked", finish)
    started = objects.startDownload("plain/checked", {"acceptDownloadMethods": {"getUrl": True}})
    assert started["hashes"]["sha256"] == right["sha256"]
    assert requests.get(started["url"], timeout=30).content == data


def test_the_taskcluster_helpers_upload_and_download_through_s3(
    queue: RunningQueue, run: Run, moto_s3: MotoS3
) -> None:
    data = os.urandom(100_000)
    name = "public/helpers.bin"
    created = run.create(name, storageType="object", contentType="application/x-data")
    objects = taskcluster.Object(queue.options(created["credentials"]))
    taskcluster.upload.uploadFromBuf(
        projectId=created["projectId"],
        name=created["name"],
        contentType="application/x-data",
        contentLength=len(data),
        expires=created["expires"],
        uploadId=created["uploadId"],
        objectService=objects,
        data=data,
    )
    run.worker.finishArtifact(run.task_id, 0, name, {"uploadId": created["uploadId"]})
    content = run.root.artifact(run.task_id, 0, name)
    reader = taskcluster.Object(queue.options(content["credentials"]))
    started = reader.startDownload(created["name"], {"acceptDownloadMethods": {"getUrl": True}})
    assert on_s3(started["url"], moto_s3)
    buf, content_type = taskcluster.download.downloadArtifactToBuf(
        taskId=run.task_id, runId=0, name=name, queueService=run.root
    )
    assert (bytes(buf), content_type) == (data, "application/x-data")


async def test_the_infrax_client_uploads_and_downloads_through_s3(
    queue: RunningQueue, run: Run, moto_s3: MotoS3, tmp_path: Path
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    source.write_bytes(os.urandom(3_000_000))
    async with worker_client(queue, run) as worker:
        await worker.upload_artifact(
            run.task_id, 0, "public/big.bin", source, content_type="application/x-big",
            expires=expires_in("1 day"),
        )  # fmt: skip
        # Present as soon as the upload returns: the client had the queue take it in.
        listed = await worker.list_artifacts(run.task_id, 0)
        assert [a.name for a in listed.artifacts] == ["public/big.bin"]
        content = await worker.artifact(run.task_id, 0, "public/big.bin")
        assert on_s3(content.url, moto_s3)  # type: ignore[union-attr]
        done = await worker.download_artifact(run.task_id, "public/big.bin", target)
    assert target.read_bytes() == source.read_bytes()
    assert done.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()


async def test_the_infrax_client_is_told_of_a_wrong_upload(
    queue: RunningQueue, run: Run, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x" * 10)
    async with worker_client(queue, run) as worker:
        created = await worker.create_artifact(
            run.task_id, 0, "public/short", {"storageType": "s3", "contentType": "a/b",
            "expires": expires_in("1 day"), "contentLength": 3},  # type: ignore[arg-type]
        )  # fmt: skip
        assert put_bytes(created.put_url, b"abcdef", "a/b").status_code == 200  # type: ignore[union-attr]
        with pytest.raises(InputError, match="has 6 bytes; 3 were declared"):
            await worker.artifact_info(run.task_id, 0, "public/short")


async def test_a_worker_uploads_its_artifacts_and_log_to_s3(
    queue: RunningQueue, tmp_path: Path, moto_s3: MotoS3
) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    script = "mkdir -p out && echo made by the task > out/a.txt"
    artifacts = [
        {"type": "file", "path": artifact_path("process", "out/a.txt"), "name": "public/a.txt"}
    ]
    async with running_worker(settings):
        task_id = await create(
            queue, "process", payload("process", "", script, artifacts=artifacts)
        )
        await resolution(queue, task_id)
    root = taskcluster.Queue(queue.root_options())
    listed = root.listArtifacts(task_id, 0)["artifacts"]
    stored = sorted(a["name"] for a in listed if a["storageType"] == "s3")
    assert {"public/a.txt", "public/logs/live_backing.log"} <= set(stored)
    got = root.getArtifact(task_id, 0, "public/a.txt")
    assert on_s3(got["url"], moto_s3)
    fetched = await asyncio.to_thread(requests.get, got["url"], timeout=30)
    assert fetched.content == b"made by the task\n"
    assert "result: completed (exit code 0)" in worker_task_log(settings, task_id)
    keys = s3_keys(queue, moto_s3)
    assert len(keys) == len(stored) and not any(k.startswith("blobs/u/") for k in keys)


def test_expiry_deletes_the_bytes_from_s3(queue: RunningQueue, run: Run, moto_s3: MotoS3) -> None:
    created = run.create(
        "public/short-lived", storageType="s3", contentType="text/plain",
        expires=expires_in("1 hour"),
    )  # fmt: skip
    assert put_bytes(created["putUrl"], b"bytes", "text/plain").status_code == 200
    assert run.root.artifactInfo(run.task_id, 0, "public/short-lived")["storageType"] == "s3"
    assert len(s3_keys(queue, moto_s3)) == 1
    app = queue.runner.app
    later = int(taskcluster.fromNow("2 hours").timestamp() * 1000)
    queue.call(sweep_artifacts(app[STORE], app[BLOBS], later))
    assert status_of(run.root.artifactInfo, run.task_id, 0, "public/short-lived") == 404
    assert s3_keys(queue, moto_s3) == []


def test_inline_object_data_is_stored_in_s3(queue: RunningQueue, moto_s3: MotoS3) -> None:
    objects = taskcluster.Object(queue.root_options())
    upload_id = taskcluster.slugId()
    objects.createUpload("inline/one", {
        "projectId": "p", "uploadId": upload_id, "expires": expires_in("1 hour"),
        "proposedUploadMethods": {"dataInline": {
            "contentType": "text/plain", "objectData": base64.b64encode(b"inline").decode()}},
    })  # fmt: skip
    assert len(s3_keys(queue, moto_s3)) == 1
    objects.finishUpload("inline/one", {"projectId": "p", "uploadId": upload_id})
    buf, _ = taskcluster.download.downloadToBuf(name="inline/one", objectService=objects)
    assert bytes(buf) == b"inline"


def test_bytes_put_but_never_finished_are_deleted_with_the_abandoned_upload(
    queue: RunningQueue, moto_s3: MotoS3
) -> None:
    objects = taskcluster.Object(queue.root_options())
    answer = objects.createUpload("scratch/abandoned", {
        "projectId": "p", "uploadId": taskcluster.slugId(), "expires": expires_in("1 year"),
        "proposedUploadMethods": {"putUrl": {"contentType": "a/b", "contentLength": 5}},
    })  # fmt: skip
    put = answer["uploadMethod"]["putUrl"]
    assert requests.put(put["url"], data=b"bytes", headers=put["headers"], timeout=30).ok
    assert len(s3_keys(queue, moto_s3)) == 1
    app = queue.runner.app
    # A day after the upload began it is abandoned; its key goes a day after its URL expired.
    after = int(taskcluster.fromNow("2 days").timestamp() * 1000)
    queue.call(sweep_artifacts(app[STORE], app[BLOBS], after))
    assert s3_keys(queue, moto_s3) == []
    assert status_of(objects.object, "scratch/abandoned") == 404


async def test_concurrent_first_reads_of_an_s3_artifact_all_find_it(
    queue: RunningQueue, run: Run, moto_s3: MotoS3
) -> None:
    """Several readers taking in the same upload at once (protocol.md §15.5): every one gets
    the artifact, whichever of them made its copy; one copy is kept, the upload's key goes."""
    readers = 8
    names = [f"public/race-{n}" for n in range(3)]
    for name in names:
        created = run.create(name, storageType="s3", contentType="text/plain")
        sent = await asyncio.to_thread(put_bytes, created["putUrl"], name.encode(), "text/plain")
        assert sent.status_code == 200
    base = f"{queue.root_url}/api/queue/v1/task/{run.task_id}/runs/0/artifacts/"
    async with aiohttp.ClientSession() as session:

        async def read(name: str) -> tuple[int, str]:
            async with session.get(base + name, allow_redirects=False) as answer:
                return answer.status, answer.headers.get("Location", await answer.text())

        for name in names:
            answers = await asyncio.gather(*(read(name) for _ in range(readers)))
            assert [status for status, _ in answers] == [303] * readers, answers
            assert len({url.split("?")[0] for _, url in answers}) == 1  # the one copy kept
            async with session.get(answers[0][1]) as fetched:
                assert await fetched.read() == name.encode()
    keys = s3_keys(queue, moto_s3)
    assert len(keys) == len(names) and not any(k.startswith("blobs/u/") for k in keys)
