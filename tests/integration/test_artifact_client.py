"""The typed client's artifact calls and transfers: a worker's streamed upload, downloads of
every kind of content, the sha256 check, and a download cut off and resumed with Range."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import taskcluster
import taskcluster.aio
import taskcluster.aio.upload

from clients import hawk
from clients.client import (
    ArtifactError,
    InsufficientScopes,
    Options,
    Queue,
    RequestConflict,
    ResourceNotFound,
    RetryPolicy,
)
from clients.client.transfer import get_file
from clients.protocol import artifacts as a
from tests.conftest import ROOT_TOKEN, RunningQueue
from tests.s3 import both_blob_stores

from .artifact_helpers import Run, claimed_run, expires_in

FAST = RetryPolicy(max_retries=3, base_delay_s=0.001, max_delay_s=0.01)


@pytest.fixture
def run(queue: RunningQueue) -> Run:
    return claimed_run(queue)


@pytest.fixture
async def worker(queue: RunningQueue, run: Run) -> AsyncIterator[Queue]:
    given = run.credentials
    credentials = hawk.Credentials(given["clientId"], given["accessToken"], given["certificate"])
    async with Queue(Options(queue.root_url, credentials, retry=FAST)) as client:
        yield client


@pytest.fixture
async def anonymous(queue: RunningQueue) -> AsyncIterator[Queue]:
    async with Queue(Options(queue.root_url, None, retry=FAST)) as client:
        yield client


@both_blob_stores
async def test_a_worker_uploads_a_file_and_anyone_downloads_it(
    worker: Queue, anonymous: Queue, run: Run, tmp_path: Path
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "out.bin"
    source.write_bytes(data)
    await worker.upload_artifact(
        run.task_id, 0, "public/out.bin", source, content_type="application/x-out",
        expires=expires_in("1 day"),
    )  # fmt: skip
    info = await anonymous.artifact_info(run.task_id, 0, "public/out.bin")
    assert (info.storage_type, info.content_type, info.content_length) == (
        "s3",
        "application/x-out",
        len(data),
    )
    target = tmp_path / "in.bin"
    done = await anonymous.download_artifact(run.task_id, "public/out.bin", target)
    assert target.read_bytes() == data
    assert (done.size, done.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (done.content_type, done.content_encoding) == ("application/x-out", None)
    listed = [item.name async for item in anonymous.iter_list_latest_artifacts(run.task_id)]
    assert listed == ["public/out.bin"]


@both_blob_stores
async def test_a_gzip_log_is_downloaded_as_stored(
    worker: Queue, anonymous: Queue, run: Run, tmp_path: Path
) -> None:
    packed = tmp_path / "log.gz"
    packed.write_bytes(gzip.compress(b"hello log\n" * 100))
    await worker.upload_artifact(
        run.task_id, 0, "public/logs/live_backing.log", packed, content_type="text/plain",
        expires=expires_in("1 day"), content_encoding="gzip",
    )  # fmt: skip
    target = tmp_path / "got"
    done = await anonymous.download_artifact(
        run.task_id, "public/logs/live_backing.log", target, run_id=0
    )
    assert done.content_encoding == "gzip"
    assert gzip.decompress(target.read_bytes()) == b"hello log\n" * 100


@both_blob_stores
async def test_object_downloads_check_the_sha256_and_errors_raise(
    queue: RunningQueue, worker: Queue, run: Run, tmp_path: Path
) -> None:
    created = await worker.create_artifact(
        run.task_id, 0, "private/obj", a.ObjectArtifactRequest(
            expires=expires_in("1 day"), content_type="a/b"
        ),
    )  # fmt: skip
    assert isinstance(created, a.ObjectArtifactResponse)
    creds = created.credentials
    objects = taskcluster.aio.Object(queue.options({
        "clientId": creds.client_id, "accessToken": creds.access_token,
        "certificate": creds.certificate,
    }))  # fmt: skip
    await taskcluster.aio.upload.uploadFromBuf(
        projectId=created.project_id, name=created.name, contentType="a/b", contentLength=5,
        expires=created.expires, uploadId=created.upload_id, objectService=objects, data=b"12345",
    )  # fmt: skip
    await worker.finish_artifact(run.task_id, 0, "private/obj", {"uploadId": created.upload_id})
    async with Queue(Options(queue.root_url, hawk.Credentials("root", ROOT_TOKEN))) as root:
        done = await root.download_artifact(run.task_id, "private/obj", tmp_path / "o", run_id=0)
        assert (tmp_path / "o").read_bytes() == b"12345"
        assert done.sha256 == hashlib.sha256(b"12345").hexdigest()
        await worker.create_artifact(
            run.task_id, 0, "public/gone", a.ErrorArtifactRequest(
                expires=expires_in("1 day"), reason="file-missing-on-worker", message="no file"
            ),
        )  # fmt: skip
        with pytest.raises(ArtifactError) as raised:
            await root.download_artifact(run.task_id, "public/gone", tmp_path / "e")
        assert raised.value.reason == "file-missing-on-worker"
        with pytest.raises(ResourceNotFound):
            await root.download_artifact(run.task_id, "public/never", tmp_path / "n")


@both_blob_stores
async def test_artifact_errors_are_typed(worker: Queue, anonymous: Queue, run: Run) -> None:
    request = a.S3ArtifactRequest(expires=expires_in("1 day"), content_type="a/b")
    await worker.create_artifact(run.task_id, 0, "private/x", request)
    changed = a.S3ArtifactRequest(expires=expires_in("1 day"), content_type="c/d")
    with pytest.raises(RequestConflict):
        await worker.create_artifact(run.task_id, 0, "private/x", changed)
    with pytest.raises(InsufficientScopes):
        await anonymous.get_artifact(run.task_id, 0, "private/x")
    ref = a.ReferenceArtifactRequest(expires=expires_in("1 day"), url="https://example.com/r")
    await worker.create_artifact(run.task_id, 0, "public/r", ref)
    got = await anonymous.get_latest_artifact(run.task_id, "public/r")
    assert (got.storage_type, got.url) == ("reference", "https://example.com/r")
    content = await anonymous.latest_artifact(run.task_id, "public/r")
    assert content == a.ReferenceContent(url="https://example.com/r")


class CuttingProxy:
    """A TCP proxy on loopback that cuts the first connection after `cut_after` bytes of the
    answer, and passes later ones whole; it records each request's head."""

    def __init__(self, target_port: int, cut_after: int) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.heads: list[bytes] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        upstream_w.write(head)
        sent = 0
        try:
            while chunk := await upstream_r.read(65536):
                if first and sent + len(chunk) >= self.cut_after:
                    writer.write(chunk[: self.cut_after - sent])
                    await writer.drain()
                    writer.transport.abort()
                    return
                writer.write(chunk)
                sent += len(chunk)
                await writer.drain()
        finally:
            upstream_w.close()
            writer.close()


async def test_a_cut_download_resumes_with_range(
    queue: RunningQueue, worker: Queue, anonymous: Queue, run: Run, tmp_path: Path
) -> None:
    data = os.urandom(2 * 1024 * 1024)
    source = tmp_path / "big"
    source.write_bytes(data)
    await worker.upload_artifact(
        run.task_id, 0, "public/big", source, content_type="a/b", expires=expires_in("1 day")
    )
    port = int(queue.root_url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, cut_after=700_000)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy_port = server.sockets[0].getsockname()[1]
    try:
        content = await anonymous.latest_artifact(run.task_id, "public/big")
        assert isinstance(content, a.S3Content)
        url = content.url.replace(f":{port}/", f":{proxy_port}/")
        seen: list[tuple[int, int | None]] = []
        done = await get_file(
            anonymous.session(), url, tmp_path / "got", FAST, progress=lambda *p: seen.append(p)
        )
    finally:
        server.close()
        await server.wait_closed()
    assert (tmp_path / "got").read_bytes() == data
    # the progress counts on from where the resumed (206) transfer starts, to the whole length
    assert seen[-1] == (len(data), len(data))
    assert [written for written, _ in seen] == sorted(written for written, _ in seen)
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    assert len(proxy.heads) == 2
    assert b"range: bytes=" in proxy.heads[1].lower()
    assert b"range" not in proxy.heads[0].lower()
