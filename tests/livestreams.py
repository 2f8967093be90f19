"""Watching live logs and opening shells in tests: artifacts' URLs, viewers, waits."""

from __future__ import annotations

import asyncio
import urllib.parse
from dataclasses import dataclass, field

import aiohttp

from clients.client import LogStream, ShellSession
from clients.protocol.artifacts import ReferenceContent, S3Content
from clients.protocol.events import ArtifactCreated, Exchange, Message
from clients.protocol.livelog import LIVE_LOG, SHELL_ARTIFACT
from tests.conftest import RunningQueue
from tests.workers import client

__all__ = ["Viewer", "artifact_created", "live_url", "read_until", "shell_socket", "stored_log"]

WAIT_S = 90.0


async def artifact_created(queue: RunningQueue, task_id: str, name: str, run_id: int = 0) -> None:
    """Wait for the artifact-created message of `name` (the first one)."""

    def matches(message: Message) -> bool:
        body = message.body
        return (
            message.exchange is Exchange.artifact_created
            and isinstance(body, ArtifactCreated)
            and body.status.task_id == task_id
            and body.run_id == run_id
            and body.artifact.name == name
        )

    await asyncio.to_thread(queue.wait_for_message, matches, WAIT_S)


async def live_url(queue: RunningQueue, task_id: str, run_id: int = 0) -> str:
    """The URL `public/logs/live.log` refers to while the run is live."""
    await artifact_created(queue, task_id, LIVE_LOG, run_id)
    async with client(queue) as q:
        content = await q.artifact(task_id, run_id, LIVE_LOG)
    assert isinstance(content, ReferenceContent), content
    return content.url


async def shell_socket(queue: RunningQueue, task_id: str, run_id: int = 0) -> str:
    """The websocket URL in the shell page `private/infrax/shell.html` refers to."""
    await artifact_created(queue, task_id, SHELL_ARTIFACT, run_id)
    async with client(queue) as q:
        content = await q.artifact(task_id, run_id, SHELL_ARTIFACT)
    assert isinstance(content, ReferenceContent), content
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(content.url).query)
    assert query["v"] == ["2"] and query["taskId"] == [task_id], content.url
    return query["socketUrl"][0]


async def stored_log(queue: RunningQueue, task_id: str, run_id: int = 0) -> bytes:
    """`public/logs/live.log` after the run: followed through its link to the backing log."""
    async with client(queue) as q:
        content = await q.artifact(task_id, run_id, LIVE_LOG)
        assert isinstance(content, S3Content), content
        async with q.session().get(content.url) as response:
            response.raise_for_status()
            return await response.read()


@dataclass
class Viewer:
    """A websocket viewer that keeps what it received and wakes waiters on each chunk."""

    session: aiohttp.ClientSession
    url: str
    offset: int = 0
    received: bytearray = field(default_factory=bytearray)
    stream: LogStream | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.stream = LogStream(self.session, self.url, offset=self.offset)
        await self.stream.__aenter__()
        self.task = asyncio.create_task(self._read(self.stream))

    async def _read(self, stream: LogStream) -> None:
        async for chunk in stream:
            async with self.changed:
                self.received += chunk
                self.changed.notify_all()
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, text: bytes) -> None:
        async with asyncio.timeout(WAIT_S), self.changed:
            await self.changed.wait_for(lambda: text in self.received or self.done)

        assert text in self.received, (text, bytes(self.received[-500:]))

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    async def finished(self) -> bytes:
        assert self.task is not None
        await asyncio.wait_for(asyncio.shield(self.task), WAIT_S)
        assert self.stream is not None and self.stream.complete, (
            self.stream and self.stream.close_code
        )
        return bytes(self.received)

    async def disconnect(self) -> int:
        """Drop the connection; the offset reached."""
        assert self.stream is not None and self.task is not None
        self.task.cancel()
        await self.stream.close()
        return self.offset + len(self.received)


async def read_until(shell: ShellSession, text: bytes) -> bytes:
    """The shell's output up to and including `text`."""
    seen = b""
    async with asyncio.timeout(WAIT_S):
        async for chunk in shell:
            seen += chunk
            if text in seen:
                return seen
    raise AssertionError(f"the shell ended before {text!r}: {seen[-500:]!r}")
