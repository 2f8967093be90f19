"""Running workers in tests: in the test's event loop, or as `infrax worker` processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import requests
import taskcluster

from clients import hawk
from clients.client import Options, Queue
from clients.protocol.events import Message
from tests.conftest import ROOT_TOKEN, RunningQueue
from tests.helpers import task_definition
from worker.daemon import Daemon
from worker.host import host_facts
from worker.main import worker_daemon
from worker.settings import Settings

__all__ = [
    "artifact_bytes",
    "client",
    "docker_payload",
    "error_artifact",
    "payload",
    "process_payload",
    "resolution",
    "running_worker",
    "task_log",
    "worker_settings",
]

RESOLVED = ("task-completed", "task-failed", "task-exception")


class Served(Protocol):
    @property
    def root_url(self) -> str: ...


def worker_settings(queue: Served, work_dir: Path, engine: str, **overrides: Any) -> Settings:
    settings = Settings(
        root_url=queue.root_url,
        task_queue_id=f"infrax-test/{engine}",
        client_id="root",
        access_token=ROOT_TOKEN,
        engine=engine,  # type: ignore[arg-type]
        worker_group="tests",
        worker_id=f"w-{uuid.uuid4().hex[:10]}",
        work_dir=work_dir,
        cancel_check_s=0.5,
        quarantine_check_s=0.5,
        empty_poll_pause_s=0.1,
        shutdown_grace_s=5.0,
        cache_prefix=f"infrax-test-{uuid.uuid4().hex[:8]}",
        memory_limit_mb=256,
        cpu_limit=1.0,
        sample_interval_s=0.2,
    )
    return replace(settings, **overrides)


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[Daemon]:
    """A daemon claiming in this event loop; stopped (drained) on exit."""
    async with worker_daemon(settings, host_facts(settings.work_dir)) as daemon:
        running = asyncio.create_task(daemon.run())
        try:
            yield daemon
        finally:
            daemon.request_stop()
            daemon.request_stop()
            await asyncio.wait_for(running, 60)


def client(queue: RunningQueue) -> Queue:
    return Queue(Options(queue.root_url, hawk.Credentials("root", ROOT_TOKEN)))


def docker_payload(image: str, script: str, **extra: Any) -> dict[str, Any]:
    """A docker-worker payload running `script` in /work (created first)."""
    command = ["sh", "-c", f"mkdir -p /work && cd /work && {script}"]
    return {"image": image, "command": command, "maxRunTime": 60, **extra}


def process_payload(script: str, **extra: Any) -> dict[str, Any]:
    return {"command": [["sh", "-c", script]], "maxRunTime": 60, **extra}


def payload(engine: str, image: str, script: str, **extra: Any) -> dict[str, Any]:
    if engine == "docker":
        return docker_payload(image, script, **extra)
    return process_payload(script, **extra)


def artifact_path(engine: str, relative: str) -> str:
    return f"/work/{relative}" if engine == "docker" else relative


async def create(queue: RunningQueue, engine: str, task_payload: Any, **fields: Any) -> str:
    task_id = _slugid()
    definition = task_definition(f"infrax-test/{engine}", payload=task_payload, **fields)
    async with client(queue) as q:
        await q.create_task(task_id, definition)
    return task_id


def _slugid() -> str:
    from clients.protocol.ids import new_slugid

    return new_slugid()


async def resolution(
    queue: RunningQueue, task_id: str, run_id: int = 0, within_s: float = 90
) -> Message:
    """The message resolving run `run_id` of the task, waiting for it."""

    def matches(message: Message) -> bool:
        body = message.body
        return (
            message.exchange in RESOLVED
            and getattr(body, "status", None) is not None
            and body.status.task_id == task_id  # type: ignore[union-attr]
            and getattr(body, "run_id", None) == run_id
        )

    return await asyncio.to_thread(queue.wait_for_message, matches, within_s)


def outcome(message: Message) -> tuple[str, str]:
    run = message.body.status.runs[message.body.run_id]  # type: ignore[union-attr]
    return run.state.value, str(run.reason_resolved)


def _root_queue(settings: Settings) -> taskcluster.Queue:
    credentials = {"clientId": settings.client_id, "accessToken": settings.access_token}
    return taskcluster.Queue({"rootUrl": settings.root_url, "credentials": credentials})


def artifact_bytes(settings: Settings, task_id: str, run_id: int, name: str) -> bytes:
    """An artifact's content as the queue serves it (a gzip-encoded one decoded)."""
    url = _root_queue(settings).getArtifact(task_id, run_id, name)["url"]
    response = requests.get(url, timeout=60)
    response.raise_for_status()
    return response.content


def task_log(settings: Settings, task_id: str, run_id: int = 0) -> str:
    return artifact_bytes(settings, task_id, run_id, "public/logs/live_backing.log").decode()


def error_artifact(settings: Settings, task_id: str, run_id: int, name: str) -> dict[str, Any]:
    """An error artifact's {storageType, reason, message}."""
    return _root_queue(settings).artifact(task_id, run_id, name)  # type: ignore[no-any-return]


def later(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


def worker_process(settings: Settings, *extra: str) -> subprocess.Popen[str]:
    """`infrax worker` as its own process, configured by flags from `settings`."""
    args = [
        sys.executable,
        "-m",
        "worker.main",
        "--root-url",
        settings.root_url,
        "--task-queue-id",
        settings.task_queue_id,
        "--engine",
        settings.engine,
        "--worker-group",
        settings.worker_group,
        "--worker-id",
        settings.worker_id,
        "--work-dir",
        str(settings.work_dir),
        "--cancel-check",
        str(settings.cancel_check_s),
        "--empty-poll-pause",
        str(settings.empty_poll_pause_s),
        "--shutdown-grace",
        str(settings.shutdown_grace_s),
        "--cache-prefix",
        settings.cache_prefix,
        "--memory-limit-mb",
        str(settings.memory_limit_mb),
        "--cpu-limit",
        str(settings.cpu_limit),
        *extra,
    ]
    env = {**os.environ, "TASKCLUSTER_CLIENT_ID": "root", "TASKCLUSTER_ACCESS_TOKEN": ROOT_TOKEN}
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for_line(process: subprocess.Popen[str], predicate: Callable[[str], bool]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if predicate(line):
            return line
    raise AssertionError(f"the worker exited ({process.wait()}) before the line")
