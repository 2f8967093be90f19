"""Figure 3, artifact throughput: a file uploaded as an s3 artifact (createArtifact, then one
streamed PUT to the queue's signed URL) and downloaded back (artifact-content, then a GET of
the signed URL), against a raw copy of the same file on the same disk in the same round.

The server's blob directory, the source file, the copy and the downloaded file all live in
the round's temporary directory, so the three figures share one disk and one page cache. The
client streams in 1 MiB chunks read and written in a thread, as a worker would. The server's
resident memory is sampled during the upload: it must not grow with the artifact's size.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from clients.client.retry import RetryPolicy
from clients.client.transfer import put_file, stream_into

from .client import QueueClient, run_credentials, session
from .server import BenchError, QueueProcess, running_queue

__all__ = ["TransferRound", "run_transfer_round"]

TASK_QUEUE = "bench/artifacts"
NAME = "public%2Fbench%2Fartifact.bin"
CHUNK = 1 << 20
RSS_SAMPLE_S = 0.005


@dataclass(frozen=True)
class TransferRound:
    size: int
    upload_s: float
    download_s: float
    copy_s: float  # to the disk (fsync'ed)
    cached_copy_s: float  # into the page cache only
    upload_rss_growth: int | None  # bytes; None off Linux

    def mb_per_s(self, seconds: float) -> float:
        return self.size / 1e6 / seconds


def _write_source(path: Path, size: int) -> None:
    with path.open("wb") as file:
        left = size
        while left:
            chunk = os.urandom(min(left, CHUNK))
            file.write(chunk)
            left -= len(chunk)


def _copy(source: Path, target: Path, durable: bool) -> float:
    """A raw copy in the kernel (shutil.copyfile), then, if `durable`, an fsync: the file is
    on the disk when it returns, as a stored artifact is when its PUT is answered."""
    began = time.perf_counter()
    shutil.copyfile(source, target)
    if durable:
        with target.open("rb") as copied:
            os.fsync(copied.fileno())
    return time.perf_counter() - began


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def _sample_rss(pid: int, samples: list[int]) -> None:
    while True:
        found = _rss(pid)
        if found is not None:
            samples.append(found)
        await asyncio.sleep(RSS_SAMPLE_S)


async def _upload(http: aiohttp.ClientSession, put_url: str, source: Path, size: int) -> float:
    """The worker's path: the typed client's streamed PUT (clients/client/transfer.py)."""
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    began = time.perf_counter()
    await put_file(http, put_url, source, headers, RetryPolicy(max_retries=0))
    return time.perf_counter() - began


async def _download(http: aiohttp.ClientSession, url: str, target: Path) -> float:
    """GET into a file as the typed client does, then fsync it: on the disk when done, as
    the raw copy's file is."""
    began = time.perf_counter()
    with target.open("wb") as file:
        async with http.get(url) as response:
            if response.status != 200:
                raise BenchError(f"the GET answered {response.status}")
            await stream_into(response.content, file.writelines)
        await asyncio.to_thread(file.flush)
        await asyncio.to_thread(os.fsync, file.fileno())
    return time.perf_counter() - began


async def _create_artifact(client: QueueClient, claim: dict[str, Any], size: int) -> str:
    task_id = claim["status"]["taskId"]
    body = {
        "storageType": "s3",
        "contentType": "application/octet-stream",
        "contentLength": size,
        "expires": claim["task"]["expires"],
    }
    route = f"/task/{task_id}/runs/0/artifacts/{NAME}"
    created = await client.call("POST", route, body, run_credentials(claim))
    put_url: str = created["putUrl"]
    return put_url


async def _measured_upload(
    queue: QueueProcess, http: aiohttp.ClientSession, put_url: str, source: Path, size: int
) -> tuple[float, int | None]:
    samples: list[int] = []
    sampler = asyncio.create_task(_sample_rss(queue.pid, samples))
    try:
        await asyncio.sleep(RSS_SAMPLE_S * 2)  # a baseline sample before the first byte
        upload_s = await _upload(http, put_url, source, size)
    finally:
        sampler.cancel()
    growth = max(samples) - samples[0] if samples else None
    return upload_s, growth


async def _timed_copy(source: Path, target: Path, durable: bool) -> float:
    seconds = await asyncio.to_thread(_copy, source, target, durable)
    await asyncio.to_thread(target.unlink)  # no dirty pages left behind for the next figure
    return seconds


async def run_transfer_round(size: int) -> TransferRound:
    """One raw copy, one upload and one download of `size` bytes on a fresh server, in this
    order, each on an otherwise idle disk; then the page-cache copy, for context."""
    async with running_queue() as queue, session(4) as http:
        scratch = queue.data_dir.parent  # the same disk as the server's blobs
        source = scratch / "source.bin"
        await asyncio.to_thread(_write_source, source, size)
        client = QueueClient(http, queue)
        await client.create_task(TASK_QUEUE)
        (claim,) = await client.claim_work(TASK_QUEUE, "bench", "transfer", 1)
        copy_s = await _timed_copy(source, scratch / "copy.bin", True)
        put_url = await _create_artifact(client, claim, size)
        upload_s, growth = await _measured_upload(queue, http, put_url, source, size)
        task_id = claim["status"]["taskId"]
        content = await client.call("GET", f"/task/{task_id}/runs/0/artifact-content/{NAME}")
        downloaded = scratch / "downloaded.bin"
        download_s = await _download(http, content["url"], downloaded)
        if (await asyncio.to_thread(lambda: downloaded.stat().st_size)) != size:
            raise BenchError("the downloaded artifact does not have the uploaded size")
        await asyncio.to_thread(downloaded.unlink)
        cached_copy_s = await _timed_copy(source, scratch / "cached.bin", False)
    return TransferRound(size, upload_s, download_s, copy_s, cached_copy_s, growth)
