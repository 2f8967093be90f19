"""Object artifacts of 0 B to 100 MiB round-trip through a queue server running as its own
process, with the official client's upload and download helpers (sync and aio); the content
and hashes match, and the server's memory stays flat while 100 MiB go through it."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import slugid
import taskcluster
import taskcluster.aio
import taskcluster.aio.download
import taskcluster.aio.upload
import taskcluster.download
import taskcluster.upload

from tests.e2e.conftest import queue_process
from tests.helpers import task_definition

ROOT_TOKEN = "root-token-for-artifact-transfer-tests-0123456789"
MIB = 1024 * 1024
SIZES = [0, 1, 8 * 1024 - 1, 8 * 1024, MIB, 100 * MIB]
# A server that held a 100 MiB transfer in memory would grow by at least 100 MiB.
MAX_RSS_GROWTH = 32 * MIB


@dataclass
class Server:
    process: subprocess.Popen[str]
    root_url: str
    data_dir: Path

    def rss(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def options(self, credentials: dict[str, str] | None = None) -> dict[str, Any]:
        creds = credentials or {"clientId": "root", "accessToken": ROOT_TOKEN}
        return {"rootUrl": self.root_url, "credentials": creds, "maxRetries": 0}


@dataclass
class RssSampler:
    """The server's resident memory, sampled every 10 ms while a transfer runs."""

    server: Server
    samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> RssSampler:
        self.samples.append(self.server.rss())
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.samples.append(self.server.rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.samples.append(self.server.rss())

    @property
    def growth(self) -> int:
        return max(self.samples) - self.samples[0]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("transfer") / "data"
    with queue_process(data_dir, INFRAX_ROOT_ACCESS_TOKEN=ROOT_TOKEN) as (root_url, process):
        yield Server(process, root_url, data_dir)


@dataclass
class Run:
    task_id: str
    credentials: dict[str, str]


@pytest.fixture(scope="module")
def run(server: Server) -> Run:
    queue = taskcluster.Queue(server.options())
    task_id = slugid.nice()
    queue.createTask(task_id, task_definition("prov/transfer"))
    (claim,) = queue.claimWork("prov/transfer", {"workerGroup": "g", "workerId": "w"})["tasks"]
    return Run(task_id, claim["credentials"])


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("sources")
    made = {}
    for size in SIZES:
        path = folder / f"{size}.bin"
        with path.open("wb") as file:
            left = size
            while left:
                chunk = os.urandom(min(left, MIB))
                file.write(chunk)
                left -= len(chunk)
        made[size] = path
    return made


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def create(server: Server, run: Run, name: str) -> dict[str, Any]:
    queue = taskcluster.Queue(server.options(run.credentials))
    body = {
        "storageType": "object",
        "contentType": "application/octet-stream",
        "expires": taskcluster.fromNowJSON("1 day"),
    }
    return queue.createArtifact(run.task_id, 0, name, body)  # type: ignore[no-any-return]


def upload_arguments(created: dict[str, Any], size: int) -> dict[str, Any]:
    return {
        "projectId": created["projectId"],
        "name": created["name"],
        "contentType": "application/octet-stream",
        "contentLength": size,
        "expires": created["expires"],
        "uploadId": created["uploadId"],
    }


def report(label: str, size: int, seconds: float, sampler: RssSampler) -> None:
    print(
        f"\n{label} {size / MIB:.0f} MiB: {size / MIB / seconds:.0f} MiB/s, server RSS"
        f" {sampler.samples[0] / MIB:.1f} MiB before, +{sampler.growth / MIB:.1f} MiB at most"
    )


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
def test_sync_helpers_round_trip(
    server: Server, run: Run, sources: dict[int, Path], tmp_path: Path, size: int
) -> None:
    name = f"public/sync/{size}.bin"
    created = create(server, run, name)
    objects = taskcluster.Object(server.options(created["credentials"]))
    with RssSampler(server) as up, sources[size].open("rb") as file:
        began = time.perf_counter()
        taskcluster.upload.uploadFromFile(
            **upload_arguments(created, size), objectService=objects, file=file
        )
        upload_s = time.perf_counter() - began
    worker = taskcluster.Queue(server.options(run.credentials))
    worker.finishArtifact(run.task_id, 0, name, {"uploadId": created["uploadId"]})
    target = tmp_path / "downloaded"
    anonymous = taskcluster.Queue({"rootUrl": server.root_url, "maxRetries": 0})
    with RssSampler(server) as down, target.open("wb") as file:
        began = time.perf_counter()
        taskcluster.download.downloadArtifactToFile(
            file=file, taskId=run.task_id, runId=0, name=name, queueService=anonymous
        )
        download_s = time.perf_counter() - began
    assert target.stat().st_size == size
    assert sha256_of(target) == sha256_of(sources[size])
    hashes = taskcluster.Object(server.options()).object(created["name"])["hashes"]
    assert hashes["sha256"] == sha256_of(sources[size])
    if size >= MIB:
        report("upload", size, upload_s, up)
        report("download", size, download_s, down)
    assert up.growth < MAX_RSS_GROWTH, up.samples
    assert down.growth < MAX_RSS_GROWTH, down.samples


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
def test_aio_helpers_round_trip(
    server: Server, run: Run, sources: dict[int, Path], tmp_path: Path, size: int
) -> None:
    name = f"private/aio/{size}.bin"
    created = create(server, run, name)
    target = tmp_path / "downloaded"

    async def transfer() -> None:
        async with aiohttp.ClientSession() as session:
            objects = taskcluster.aio.Object(
                server.options(created["credentials"]), session=session
            )
            with sources[size].open("rb") as file:
                await taskcluster.aio.upload.uploadFromFile(
                    **upload_arguments(created, size), objectService=objects, file=file
                )
            worker = taskcluster.aio.Queue(server.options(run.credentials), session=session)
            await worker.finishArtifact(run.task_id, 0, name, {"uploadId": created["uploadId"]})
            root = taskcluster.aio.Queue(server.options(), session=session)
            with target.open("wb") as file:
                await taskcluster.aio.download.downloadArtifactToFile(
                    file=file, taskId=run.task_id, name=name, queueService=root
                )

    with RssSampler(server) as sampler:
        asyncio.run(transfer())
    assert target.stat().st_size == size
    assert sha256_of(target) == sha256_of(sources[size])
    assert sampler.growth < MAX_RSS_GROWTH, sampler.samples
