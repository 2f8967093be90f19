"""`infrax worker` processes against a real queue: kill -9 and SIGTERM mid-task, idle exit.

Run 0 of each task sleeps; its retry (run 1) finishes at once, on a second worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import psutil
import pytest

from tests.conftest import RunningQueue
from tests.workers import (
    create,
    outcome,
    payload,
    resolution,
    running_worker,
    wait_for_line,
    worker_process,
    worker_settings,
)

RETRY_FINISHES = 'if [ "$RUN_ID" = 0 ]; then echo started; sleep 600; fi; echo done'


@pytest.fixture
def queue_overrides() -> dict[str, object]:
    # Short enough that a killed worker's claim expires soon; long enough that a loaded
    # machine still reclaims in time (the worker reclaims at half the time left).
    return {"claim_timeout_s": 10.0}


@contextlib.contextmanager
def worker(settings: object, *extra: str) -> Iterator[subprocess.Popen[str]]:
    """A worker process; whatever it leaves behind (after a kill -9) is removed afterwards."""
    process = worker_process(settings, *extra)  # type: ignore[arg-type]
    children: list[psutil.Process] = []
    try:
        wait_for_line(process, lambda line: line.startswith("worker: "))
        yield process
    finally:
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(process.pid).children(recursive=True)
        process.kill()
        process.wait(30)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        _remove_containers(settings)


def _remove_containers(settings: object) -> None:
    label = f"infrax.worker={settings.worker_group}/{settings.worker_id}"  # type: ignore[attr-defined]
    with contextlib.suppress(docker.errors.DockerException):
        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)


async def _claimed(queue: RunningQueue, task_id: str) -> None:
    def running(message: object) -> bool:
        status = getattr(getattr(message, "body", None), "status", None)
        return (
            getattr(message, "exchange", "") == "task-running"
            and getattr(status, "task_id", None) == task_id
        )

    await asyncio.to_thread(queue.wait_for_message, running, 60)


async def test_a_worker_killed_mid_task_loses_the_run_and_another_worker_completes_the_retry(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    first = worker_settings(queue, tmp_path / "a", engine)
    with worker(first) as process:
        task_id = await create(queue, engine, payload(engine, image, RETRY_FINISHES))
        await _claimed(queue, task_id)
        process.send_signal(signal.SIGKILL)
        expired = await resolution(queue, task_id, 0)
    assert outcome(expired) == ("exception", "claim-expired")
    second = worker_settings(queue, tmp_path / "b", engine)
    async with running_worker(second):
        retried = await resolution(queue, task_id, 1)
    assert outcome(retried) == ("completed", "completed")
    run = retried.body.status.runs[1]  # type: ignore[union-attr]
    assert (run.reason_created, run.worker_id) == ("retry", second.worker_id)


async def test_sigterm_mid_task_resolves_worker_shutdown_and_the_retry_runs_elsewhere(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    first = worker_settings(queue, tmp_path / "a", engine, shutdown_grace_s=1.0)
    with worker(first) as process:
        task_id = await create(queue, engine, payload(engine, image, RETRY_FINISHES))
        await _claimed(queue, task_id)
        process.send_signal(signal.SIGTERM)
        shutdown = await resolution(queue, task_id, 0)
        assert await asyncio.to_thread(process.wait, 60) == 0
        if engine == "docker":
            label = f"infrax.worker={first.worker_group}/{first.worker_id}"
            assert docker.from_env().containers.list(all=True, filters={"label": label}) == []
    assert outcome(shutdown) == ("exception", "worker-shutdown")
    second = worker_settings(queue, tmp_path / "b", engine)
    async with running_worker(second):
        retried = await resolution(queue, task_id, 1)
    assert outcome(retried) == ("completed", "completed")
    assert retried.body.status.runs[1].worker_id == second.worker_id  # type: ignore[union-attr]


async def test_sigterm_lets_a_task_finish_within_the_grace_period(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine, shutdown_grace_s=60.0)
    script = "echo started; sleep 2; echo finished"
    with worker(settings) as process:
        task_id = await create(queue, engine, payload(engine, image, script))
        await _claimed(queue, task_id)
        process.send_signal(signal.SIGTERM)
        finished = await resolution(queue, task_id, 0)
        assert await asyncio.to_thread(process.wait, 60) == 0
    assert outcome(finished) == ("completed", "completed")


def test_an_idle_worker_exits_after_its_idle_timeout(queue: RunningQueue, tmp_path: Path) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    with worker(settings, "--idle-timeout", "1") as process:
        assert process.wait(60) == 0
