"""The process engine with real processes: sequences, a clean environment, process-group kill,
the unprivileged user, artifacts confined to the task directory."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from pathlib import Path

import psutil
import pytest

from worker.engines.base import Launch
from worker.engines.process import ProcessEngine
from worker.errors import ArtifactProblem
from worker.payload import ArtifactRequest, Job
from worker.tasklog import TaskLog


@pytest.fixture
def engine(tmp_path: Path) -> ProcessEngine:
    tasks = tmp_path / "tasks"
    return ProcessEngine.for_user(tasks, "nobody")


def _launch(*commands: tuple[str, ...]) -> Launch:
    return Launch(
        name=f"task-{uuid.uuid4().hex[:12]}",
        job=Job(commands=commands, env={}, max_run_time_s=60),
        env={"GREETING": "hello"},
    )


def _sh(script: str) -> tuple[str, ...]:
    return ("sh", "-c", script)


async def test_commands_run_in_sequence_until_one_fails(
    engine: ProcessEngine, tmp_path: Path
) -> None:
    log = TaskLog(tmp_path / "log")
    launch = _launch(_sh("echo first $GREETING"), _sh("echo second; exit 4"), _sh("echo third"))
    async with engine.execute(launch, log) as run:
        assert await run.wait() == 4
    log.close()
    text = (tmp_path / "log").read_text()
    assert "first hello\n" in text
    assert "second\n" in text
    assert "third" not in text.replace("running sh -c echo third", "")


async def test_the_environment_is_clean_and_the_task_dir_removed(
    engine: ProcessEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKCLUSTER_ACCESS_TOKEN", "worker-secret")
    log = TaskLog(tmp_path / "log")
    launch = _launch(_sh("env; pwd; id -u"))
    async with engine.execute(launch, log) as run:
        assert await run.wait() == 0
        task_dir = engine.tasks_dir / launch.name
        assert task_dir.is_dir()
    log.close()
    text = (tmp_path / "log").read_text()
    assert "worker-secret" not in text
    assert f"TASK_WORKDIR={task_dir}" in text
    assert not task_dir.exists()
    if os.geteuid() == 0:
        assert "\n65534\n" in text


async def test_kill_takes_the_whole_process_group(engine: ProcessEngine, tmp_path: Path) -> None:
    log = TaskLog(tmp_path / "log")
    launch = _launch(_sh("sleep 600 & echo child=$!; sleep 600"))
    async with engine.execute(launch, log) as run:
        waiting = asyncio.create_task(run.wait())
        seen = b""
        async for chunk in log.follow():
            seen += chunk
            if found := re.search(rb"child=(\d+)", seen):
                child = int(found.group(1))
                break
        assert psutil.pid_exists(child)
        began = time.monotonic()
        await run.kill()
        code = await asyncio.wait_for(waiting, 30)
        assert time.monotonic() - began < 5
    assert code == 137
    assert _gone_within(child, 10)


def _gone_within(pid: int, timeout_s: float) -> bool:
    """Whether the process ends (exits, or is a zombie nobody reaped) within the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


async def test_a_missing_command_exits_127(engine: ProcessEngine, tmp_path: Path) -> None:
    log = TaskLog(tmp_path / "log")
    async with engine.execute(_launch(("no-such-command-here",)), log) as run:
        assert await run.wait() == 127


async def test_artifacts_stay_inside_the_task_directory(
    engine: ProcessEngine, tmp_path: Path
) -> None:
    script = "mkdir -p out/sub && echo one > out/a && echo two > out/sub/b && ln -s /etc/passwd out/p && ln -s /etc/passwd leak"
    async with engine.execute(_launch(_sh(script)), TaskLog(tmp_path / "log")) as run:
        assert await run.wait() == 0
        [single] = await run.fetch(ArtifactRequest("public/a", "file", "out/a"), tmp_path)
        tree = await run.fetch(ArtifactRequest("public/o", "directory", "out"), tmp_path)
        problems = []
        for path in ("leak", "missing", "out"):
            with pytest.raises(ArtifactProblem) as problem:
                await run.fetch(ArtifactRequest("public/x", "file", path), tmp_path)
            problems.append(problem.value.reason)
        assert single.local.read_text() == "one\n"
        assert [f.relative for f in tree] == ["a", "sub/b"]
    assert problems == [
        "invalid-resource-on-worker",
        "file-missing-on-worker",
        "invalid-resource-on-worker",
    ]
