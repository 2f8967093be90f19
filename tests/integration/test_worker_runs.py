"""A worker against a real queue and a real engine: how each kind of ending is reported.

Every scenario runs on the Docker engine (the local busybox image) and on the process engine.
"""

from __future__ import annotations

import asyncio
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
import psutil
import pytest
from msgspec import UnsetType

from tests.conftest import RunningQueue
from tests.workers import (
    artifact_bytes,
    artifact_path,
    client,
    create,
    error_artifact,
    later,
    outcome,
    payload,
    resolution,
    running_worker,
    task_log,
    worker_settings,
)


async def test_exit_0_is_completed_with_the_output_and_standard_variables_in_the_log(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    script = 'echo "hello from $TASK_ID run $RUN_ID group $TASK_GROUP_ID at $TASKCLUSTER_ROOT_URL"'
    async with running_worker(settings):
        task_id = await create(queue, engine, payload(engine, image, script))
        message = await resolution(queue, task_id)
    assert outcome(message) == ("completed", "completed")
    log = task_log(settings, task_id)
    assert f"hello from {task_id} run 0 group {task_id} at {queue.root_url}\n" in log
    assert "result: completed (exit code 0)" in log


async def test_a_non_zero_exit_is_failed(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    async with running_worker(settings):
        task_id = await create(queue, engine, payload(engine, image, "echo bad; exit 3"))
        message = await resolution(queue, task_id)
    assert outcome(message) == ("failed", "failed")
    assert "result: failed (exit code 3)" in task_log(settings, task_id)


async def test_an_exit_code_listed_for_retry_is_intermittent_and_retried(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    script = 'if [ "$RUN_ID" = 0 ]; then exit 5; fi; echo second run'
    task_payload = payload(engine, image, script, onExitStatus={"retry": [5]})
    async with running_worker(settings):
        task_id = await create(queue, engine, task_payload)
        first = await resolution(queue, task_id, 0)
        second = await resolution(queue, task_id, 1)
    assert outcome(first) == ("exception", "intermittent-task")
    assert outcome(second) == ("completed", "completed")
    assert second.body.status.runs[1].reason_created == "task-retry"  # type: ignore[union-attr]


async def test_max_run_time_kills_the_task_promptly_and_fails_it(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    task_payload = payload(engine, image, "echo sleeping; sleep 600", maxRunTime=2)
    async with running_worker(settings):
        began = time.monotonic()
        task_id = await create(queue, engine, task_payload)
        message = await resolution(queue, task_id)
        took = time.monotonic() - began
    assert outcome(message) == ("failed", "failed")
    assert "task aborted - max run time exceeded (2 s)" in task_log(settings, task_id)
    assert took < 30


async def test_a_malformed_payload_is_reported_with_the_reason_in_the_log(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    bad = payload(engine, image, "true", maxRunTime="soon")
    async with running_worker(settings):
        task_id = await create(queue, engine, bad)
        message = await resolution(queue, task_id)
    assert outcome(message) == ("exception", "malformed-payload")
    log = task_log(settings, task_id)
    assert "the payload is invalid: Expected `int`, got `str` - at `$.maxRunTime`" in log


async def test_a_missing_artifact_becomes_an_error_artifact_and_fails_the_task(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    script = "mkdir -p out/sub && echo one > out/a.txt && echo two > out/sub/b.txt"
    artifacts = [
        {"type": "file", "path": artifact_path(engine, "out/a.txt"), "name": "public/a.txt"},
        {"type": "directory", "path": artifact_path(engine, "out"), "name": "public/out"},
        {"type": "file", "path": artifact_path(engine, "out/none"), "name": "public/none"},
    ]
    if engine == "docker":
        declared: object = {a.pop("name"): a for a in artifacts}
    else:
        declared = artifacts
    async with running_worker(settings):
        task_id = await create(queue, engine, payload(engine, image, script, artifacts=declared))
        message = await resolution(queue, task_id)
    assert outcome(message) == ("failed", "failed")
    assert artifact_bytes(settings, task_id, 0, "public/a.txt") == b"one\n"
    assert artifact_bytes(settings, task_id, 0, "public/out/sub/b.txt") == b"two\n"
    error = error_artifact(settings, task_id, 0, "public/none")
    assert error["reason"] == "file-missing-on-worker"
    assert "result: failed (exit code 0)" in task_log(settings, task_id)


@pytest.mark.parametrize("notice", ["event-stream", "status-checks"])
async def test_a_cancel_stops_the_running_task_within_seconds(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str, notice: str
) -> None:
    if notice == "event-stream":  # status checks far apart: only the stream can be in time
        settings = worker_settings(queue, tmp_path, engine, cancel_check_s=600.0)
    else:
        settings = worker_settings(queue, tmp_path, engine, cancel_events=False)
    async with running_worker(settings) as daemon:
        if notice == "event-stream":
            await _until(lambda: daemon.context.events_connected)
        task_id = await create(queue, engine, payload(engine, image, "echo started; sleep 600"))
        await _running(queue, task_id)
        run = await _active_run(daemon, task_id)
        await _started(run.log)
        async with client(queue) as q:
            await q.cancel_task(task_id)
        canceled_at = time.monotonic()
        while (task_id, 0) in daemon.context.active:
            await asyncio.sleep(0.05)
            assert time.monotonic() - canceled_at < 5, "the run was still active after 5 s"
        if engine == "docker":
            with pytest.raises(docker.errors.NotFound):
                docker.from_env().containers.get(run.name)
        async with client(queue) as q:
            status = (await q.status(task_id)).status
    assert (status.state, status.runs[0].reason_resolved) == ("exception", "canceled")


async def _until(condition: Callable[[], bool], within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


async def _running(queue: RunningQueue, task_id: str) -> None:
    def claimed(message: object) -> bool:
        body = getattr(message, "body", None)
        return (
            getattr(message, "exchange", "") == "task-running"
            and getattr(getattr(body, "status", None), "task_id", None) == task_id
        )

    await asyncio.to_thread(queue.wait_for_message, claimed, 60)


async def _active_run(daemon: object, task_id: str) -> object:
    from worker.daemon import Daemon

    assert isinstance(daemon, Daemon)
    for _ in range(600):
        run = daemon.context.active.get((task_id, 0))
        if run is not None:
            return run
        await asyncio.sleep(0.05)
    raise AssertionError("the run never became active")


async def _started(log: object) -> None:
    from worker.tasklog import TaskLog

    assert isinstance(log, TaskLog)
    seen = b""
    async for chunk in log.follow():
        seen += chunk
        if b"started\n" in seen.replace(b"echo started", b""):
            return


async def test_a_worker_of_capacity_4_runs_four_tasks_at_once_never_five(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine, capacity=4)
    task_ids = [await create(queue, engine, payload(engine, image, "sleep 1.5")) for _ in range(9)]
    async with running_worker(settings):
        for task_id in task_ids:
            await resolution(queue, task_id)
    running, most = 0, 0
    for message in list(queue.messages):
        status = getattr(message.body, "status", None)
        if status is None or status.task_id not in task_ids:
            continue
        if message.exchange == "task-running":
            running += 1
        elif message.exchange in ("task-completed", "task-failed", "task-exception"):
            running -= 1
        most = max(most, running)
    assert most == 4


async def test_an_artifact_name_the_queue_refuses_is_a_malformed_payload(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    declared = {"type": "file", "path": artifact_path(engine, "out.txt"), "name": "public/../x"}
    artifacts: object = [declared]
    if engine == "docker":
        artifacts = {declared.pop("name"): declared}
    task_payload = payload(engine, image, "echo hi > out.txt", artifacts=artifacts)
    async with running_worker(settings):
        task_id = await create(queue, engine, task_payload)
        message = await resolution(queue, task_id)
    assert outcome(message) == ("exception", "malformed-payload")
    log = task_log(settings, task_id)
    assert "artifact public/../x was refused: an artifact name must not have a `..` segment" in log


async def test_a_quarantined_worker_claims_nothing_until_the_quarantine_is_lifted(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    provisioner_id, worker_type = settings.task_queue_id.split("/")
    ids = (provisioner_id, worker_type, settings.worker_group, settings.worker_id)
    async with client(queue) as q:
        await q.declare_worker(*ids)
        await q.quarantine_worker(*ids, quarantine_until=later(3600), quarantine_info="broken disk")
        async with running_worker(settings):
            task_id = await create(queue, engine, payload(engine, image, "true"))
            await asyncio.sleep(3)  # a bounded observation: nothing may claim it meanwhile
            assert (await q.status(task_id)).status.state == "pending"
            await q.quarantine_worker(*ids, quarantine_until=later(-60))
            message = await resolution(queue, task_id)
    assert outcome(message) == ("completed", "completed")


async def test_the_worker_records_its_host_in_its_worker_record(
    queue: RunningQueue, tmp_path: Path
) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    provisioner_id, worker_type = settings.task_queue_id.split("/")
    async with running_worker(settings), client(queue) as q:
        record = await q.get_worker(
            provisioner_id, worker_type, settings.worker_group, settings.worker_id
        )
    assert not isinstance(record.host, UnsetType)
    assert (record.host.cpu_count, record.host.architecture) == (
        psutil.cpu_count(),
        platform.machine(),
    )
    assert record.host.memory_bytes == psutil.virtual_memory().total
    assert 0 < record.host.disk_free_bytes <= record.host.disk_total_bytes


async def test_resource_use_is_uploaded_as_resources_json(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine, sample_interval_s=0.2)
    script = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 2"
    async with running_worker(settings):
        task_id = await create(queue, engine, payload(engine, image, script))
        await resolution(queue, task_id)
    document = json.loads(artifact_bytes(settings, task_id, 0, "public/logs/resources.json"))
    assert document["samples"]
    assert document["peakMemoryBytes"] > 0
    assert document["cpuSeconds"] == max(s["cpuSeconds"] for s in document["samples"])
    assert "resources: CPU" in task_log(settings, task_id)
