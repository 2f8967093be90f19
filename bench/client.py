"""The load generator's side of the wire: Hawk-signed JSON calls over one aiohttp session."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import msgspec

from clients import hawk
from clients.protocol.ids import new_slugid
from clients.protocol.times import format_ms

from .server import BenchError, Served

__all__ = ["QueueClient", "run_credentials", "session", "task_definition"]

JSON = "application/json"
HOUR_MS = 3_600_000

_encode = msgspec.json.encode
_decode = msgspec.json.decode


def task_definition(task_queue_id: str, now: float) -> dict[str, object]:
    """A no-op task with a deadline an hour away (the shape of tests/helpers.py)."""
    now_ms = int(now * 1000)
    return {
        "taskQueueId": task_queue_id,
        "created": format_ms(now_ms),
        "deadline": format_ms(now_ms + HOUR_MS),
        "payload": {},
        "metadata": {
            "name": "bench no-op",
            "description": "a task made by python -m bench",
            "owner": "bench@example.com",
            "source": "https://example.com/bench",
        },
    }


def run_credentials(claim: dict[str, Any]) -> hawk.Credentials:
    """The temporary credentials claimWork hands out for one run, as a worker uses them."""
    given = claim["credentials"]
    return hawk.Credentials(given["clientId"], given["accessToken"], given["certificate"])


class QueueClient:
    """A few Queue v1 calls, signed with Hawk as the official clients sign them."""

    def __init__(self, session: aiohttp.ClientSession, queue: Served) -> None:
        self._session = session
        self._base = f"{queue.root_url}/api/queue/v1"
        self.root = hawk.Credentials("root", queue.root_access_token)

    async def call(
        self,
        method: str,
        route: str,
        body: object = None,
        credentials: hawk.Credentials | None = None,
    ) -> dict[str, Any]:
        url = self._base + route
        data = b"" if body is None else _encode(body)
        # aiohttp gives a bodyless POST `application/octet-stream`; name JSON as the official
        # clients do, so that the signed and the sent Content-Type agree.
        content_type = JSON
        authorization = hawk.sign_header(
            credentials or self.root,
            method,
            url,
            content_type=content_type,
            body=data,
            now=time.time(),
        )
        headers = {"Authorization": authorization, "Content-Type": content_type}
        async with self._session.request(
            method, url, data=data or None, headers=headers
        ) as response:
            raw = await response.read()
            if response.status != 200:
                text = raw[:500].decode(errors="replace")
                raise BenchError(f"{method} {route} answered {response.status}: {text}")
        found: dict[str, Any] = _decode(raw)
        return found

    async def create_task(self, task_queue_id: str, dependencies: list[str] | None = None) -> str:
        task_id = new_slugid()
        definition = task_definition(task_queue_id, time.time())
        if dependencies:
            definition["dependencies"] = dependencies
        await self.call("PUT", f"/task/{task_id}", definition)
        return task_id

    async def claim_work(
        self, task_queue_id: str, worker_group: str, worker_id: str, tasks: int
    ) -> list[dict[str, Any]]:
        body = {"workerGroup": worker_group, "workerId": worker_id, "tasks": tasks}
        answer = await self.call("POST", f"/claim-work/{task_queue_id}", body)
        claims: list[dict[str, Any]] = answer["tasks"]
        return claims

    async def report_completed(self, claim: dict[str, Any]) -> None:
        task_id, run_id = claim["status"]["taskId"], claim["runId"]
        route = f"/task/{task_id}/runs/{run_id}/completed"
        await self.call("POST", route, credentials=run_credentials(claim))


def session(connections: int) -> aiohttp.ClientSession:
    """One keep-alive session; `connections` bounds the sockets it opens to the server."""
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    # The queue sets no cookies: the dummy jar saves filtering cookies for every request.
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=60),
        cookie_jar=aiohttp.DummyCookieJar(),
    )
