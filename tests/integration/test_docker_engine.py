"""The Docker engine against the real engine: output, exit codes, kill, limits, artifacts."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import docker
import docker.errors
import pytest

from worker.engines.base import Launch, Limits
from worker.engines.docker import DockerEngine, DockerExecution
from worker.errors import ArtifactProblem
from worker.payload import ArtifactRequest, Job
from worker.tasklog import TaskLog


class PreparingEngine(DockerEngine):
    """Prepares (uses the local image) on entering, as a run does before executing."""

    @asynccontextmanager
    async def execute(self, launch: Launch, log: TaskLog) -> AsyncIterator[DockerExecution]:
        await self.prepare(launch, log)
        async with super().execute(launch, log) as execution:
            yield execution


@pytest.fixture
async def engine(docker_client: docker.DockerClient) -> AsyncIterator[DockerEngine]:
    engine = PreparingEngine(docker.from_env(), capacity=2, worker=f"test/{uuid.uuid4().hex[:8]}")
    yield engine
    await engine.remove_leftovers()
    await engine.close()


def _launch(image: str, script: str, **job: object) -> Launch:
    return Launch(
        name=f"infrax-test-{uuid.uuid4().hex[:12]}",
        job=Job(commands=(("sh", "-c", script),), env={}, max_run_time_s=60, image=image, **job),  # type: ignore[arg-type]
        env={"GREETING": "hello"},
        limits=Limits(memory_bytes=64 * 2**20, cpus=0.5),
    )


async def test_output_and_exit_code_come_back(
    engine: DockerEngine, busybox_image: str, tmp_path: Path
) -> None:
    log = TaskLog(tmp_path / "log")
    async with engine.execute(_launch(busybox_image, "echo $GREETING; exit 3"), log) as run:
        assert await run.wait() == 3
    log.close()
    assert b"hello\n" in (tmp_path / "log").read_bytes()


async def test_the_container_is_unprivileged_limited_and_removed_afterwards(
    engine: DockerEngine, busybox_image: str, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    launch = _launch(busybox_image, "true")
    async with engine.execute(launch, TaskLog(tmp_path / "log")) as run:
        host = docker_client.containers.get(launch.name).attrs["HostConfig"]
        assert await run.wait() == 0
    assert host["Privileged"] is False
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Memory"] == 64 * 2**20
    assert host["NanoCpus"] == 500_000_000
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(launch.name)


async def test_kill_stops_a_running_container_at_once(
    engine: DockerEngine, busybox_image: str, tmp_path: Path
) -> None:
    log = TaskLog(tmp_path / "log")
    async with engine.execute(_launch(busybox_image, "echo started; sleep 600"), log) as run:
        waiting = asyncio.create_task(run.wait())
        async for chunk in log.follow():
            if b"started" in chunk:
                break
        began = time.monotonic()
        await run.kill()
        code = await asyncio.wait_for(waiting, 30)
        assert time.monotonic() - began < 5
    assert code == 137


async def test_usage_is_sampled_while_running(
    engine: DockerEngine, busybox_image: str, tmp_path: Path
) -> None:
    log = TaskLog(tmp_path / "log")
    async with engine.execute(_launch(busybox_image, "echo up; sleep 600"), log) as run:
        async for chunk in log.follow():
            if b"up" in chunk:
                break
        usage = await run.usage()
        await run.kill()
    assert usage is not None
    assert usage.memory_bytes > 0
    assert usage.cpu_s >= 0


async def test_a_command_that_does_not_exist_exits_127(
    engine: DockerEngine, busybox_image: str, tmp_path: Path
) -> None:
    launch = _launch(busybox_image, "")
    launch = Launch(
        launch.name,
        Job(commands=(("no-such-command",),), env={}, max_run_time_s=5, image=busybox_image),
        {},
    )
    log = TaskLog(tmp_path / "log")
    async with engine.execute(launch, log) as run:
        assert await run.wait() == 127
    log.close()
    assert b"could not be started" in (tmp_path / "log").read_bytes()


async def test_artifacts_are_fetched_from_the_stopped_container(
    engine: DockerEngine, busybox_image: str, tmp_path: Path
) -> None:
    script = "mkdir -p /out/sub && echo one > /out/a.txt && echo two > /out/sub/b.txt; ln -s /etc/passwd /out/link"
    async with engine.execute(_launch(busybox_image, script), TaskLog(tmp_path / "log")) as run:
        assert await run.wait() == 0
        [single] = await run.fetch(ArtifactRequest("public/a", "file", "/out/a.txt"), tmp_path)
        tree = await run.fetch(ArtifactRequest("public/d", "directory", "/out"), tmp_path)
        with pytest.raises(ArtifactProblem) as missing:
            await run.fetch(ArtifactRequest("public/m", "file", "/out/nothing"), tmp_path)
        with pytest.raises(ArtifactProblem) as wrong_kind:
            await run.fetch(ArtifactRequest("public/w", "file", "/out"), tmp_path)
    assert single.local.read_text() == "one\n"
    assert [(f.relative, f.local.read_text()) for f in tree] == [
        ("a.txt", "one\n"),
        ("sub/b.txt", "two\n"),
    ]
    assert missing.value.reason == "file-missing-on-worker"
    assert wrong_kind.value.reason == "invalid-resource-on-worker"


async def test_the_memory_limit_holds_and_an_out_of_memory_kill_is_explained(
    engine: DockerEngine, busybox_image: str, tmp_path: Path
) -> None:
    script = "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"
    log = TaskLog(tmp_path / "log")
    async with engine.execute(_launch(busybox_image, script), log) as run:
        code = await run.wait()
    log.close()
    text = (tmp_path / "log").read_text()
    assert code != 0
    assert "survived" not in text
    assert "the container ran out of memory (limit 64 MiB)" in text
