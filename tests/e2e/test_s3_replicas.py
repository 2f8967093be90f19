"""Two queue replicas on one PostgreSQL schema, behind nginx, sharing one S3 blob store (moto's
server; docs/deployment.md): an artifact uploaded through one replica is downloaded through
the other, and the bytes never pass through either."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import taskcluster.aio
import taskcluster.aio.download
import taskcluster.aio.upload

from bench.cluster import Cluster, running_cluster
from bench.postgres import fresh_schema
from clients import hawk
from clients.client import Options, Queue
from tests import helpers
from tests.postgres import POSTGRES_URL, require, require_nginx
from tests.s3 import MotoS3

pytestmark = [pytest.mark.postgres]

QUEUE_ID = "e2e/s3-replicas"


@pytest.fixture
async def cluster(moto_s3: MotoS3) -> AsyncIterator[Cluster]:
    require()
    require_nginx()
    async with (
        fresh_schema(POSTGRES_URL, "infrax_test_") as url,
        running_cluster(2, url, "--database-pool-size", "3", "--blob-store", moto_s3.url()) as c,
    ):
        yield c


def root_options(cluster: Cluster, root_url: str) -> dict[str, Any]:
    credentials = {"clientId": "root", "accessToken": cluster.root_access_token}
    return {"rootUrl": root_url, "credentials": credentials, "maxRetries": 0}


async def claimed(cluster: Cluster, root_url: str) -> tuple[str, dict[str, str]]:
    """A task created and claimed through `root_url`: its id and the run's credentials."""
    root = taskcluster.aio.Queue(root_options(cluster, root_url))
    task_id = taskcluster.slugId()
    await root.createTask(task_id, helpers.task_definition(QUEUE_ID))
    claim = await root.claimWork(QUEUE_ID, {"workerGroup": "g", "workerId": "w", "tasks": 1})
    (one,) = claim["tasks"]
    return task_id, one["credentials"]


async def test_an_artifact_uploaded_through_one_replica_is_read_through_the_other(
    cluster: Cluster, moto_s3: MotoS3, tmp_path: Path
) -> None:
    first, second = (replica.root_url for replica in cluster.replicas)
    task_id, given = await claimed(cluster, first)
    credentials = hawk.Credentials(given["clientId"], given["accessToken"], given["certificate"])
    source, target = tmp_path / "source", tmp_path / "target"
    source.write_bytes(os.urandom(2_000_000))
    async with Queue(Options(first, credentials)) as worker:
        await worker.upload_artifact(
            task_id, 0, "public/shared.bin", source, content_type="application/x-shared",
            expires=str(taskcluster.fromNowJSON("1 day")),
        )  # fmt: skip
    async with Queue(Options(second, None)) as reader:
        content = await reader.artifact(task_id, 0, "public/shared.bin")
        assert content.url.startswith(f"{moto_s3.endpoint}/")  # type: ignore[union-attr]
        await reader.download_artifact(task_id, "public/shared.bin", target)
    assert target.read_bytes() == source.read_bytes()


async def test_an_object_artifact_goes_through_either_replica_and_nginx(
    cluster: Cluster, tmp_path: Path
) -> None:
    first, second = (replica.root_url for replica in cluster.replicas)
    task_id, run_credentials = await claimed(cluster, first)
    data = os.urandom(300_000)
    worker = taskcluster.aio.Queue({"rootUrl": first, "credentials": run_credentials})
    name = "public/object.bin"
    created = await worker.createArtifact(task_id, 0, name, {
        "storageType": "object", "contentType": "application/x-object",
        "expires": str(taskcluster.fromNowJSON("1 day")),
    })  # fmt: skip
    # The upload negotiated with the second replica, finished through nginx.
    objects = taskcluster.aio.Object({"rootUrl": second, "credentials": created["credentials"]})
    await taskcluster.aio.upload.uploadFromBuf(
        projectId=created["projectId"], name=created["name"],
        contentType="application/x-object", contentLength=len(data),
        expires=created["expires"], uploadId=created["uploadId"],
        objectService=objects, data=data,
    )  # fmt: skip
    through_nginx = taskcluster.aio.Queue(
        {"rootUrl": cluster.root_url, "credentials": run_credentials}
    )
    await through_nginx.finishArtifact(task_id, 0, name, {"uploadId": created["uploadId"]})
    for root_url in (first, second):
        queue = taskcluster.aio.Queue(root_options(cluster, root_url))
        buf, content_type = await taskcluster.aio.download.downloadArtifactToBuf(
            taskId=task_id, runId=0, name=name, queueService=queue
        )
        assert (bytes(buf), content_type) == (data, "application/x-object")
