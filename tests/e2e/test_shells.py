"""Interactive shells end to end (protocol.md §18.4): a real queue, worker and engine; the
session is found through the private shell artifact and reached through the relay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import docker
import docker.errors
import pytest

from clients.client import ResourceNotFound, ShellSession
from clients.protocol.livelog import SHELL_ARTIFACT
from tests.conftest import RunningQueue
from tests.livestreams import Viewer, live_url, read_until, shell_socket
from tests.workers import (
    client,
    create,
    outcome,
    payload,
    resolution,
    running_worker,
    task_log,
    worker_settings,
)

WAIT = "while [ ! -e {go} ]; do sleep 0.05; done"


def interactive(engine: str, image: str, script: str, **features: Any) -> dict[str, Any]:
    return payload(engine, image, script, features={"interactive": True, **features})


def scopes(engine: str) -> list[str]:
    if engine == "docker":
        return ["docker-worker:feature:interactive"]
    return [f"generic-worker:interactive:infrax-test/{engine}"]


def go_path(engine: str) -> str:
    # process engine: relative to the task directory, where both the task and shells start
    return "/tmp/go" if engine == "docker" else "go"


async def test_a_shell_runs_a_command_follows_a_resize_and_ends_with_exit(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    script = "echo task started; " + WAIT.format(go=go_path(engine)) + "; echo task done"
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(
            queue, engine, interactive(engine, image, script), scopes=scopes(engine)
        )
        socket = await shell_socket(queue, task_id)
        async with ShellSession(session, socket) as shell:
            await shell.resize(33, 101)
            await shell.send(b"stty size; echo sum-$((40+2))\n")
            seen = await read_until(shell, b"sum-42")
            assert b"33 101" in seen
            await shell.resize(20, 70)
            await shell.send(b"stty size\n")
            assert b"20 70" in await read_until(shell, b"20 70")
            await shell.send(b"touch " + go_path(engine).encode() + b"; exit\n")
            async for _ in shell:
                pass
            assert shell.close_code == 1000, (shell.close_code, shell.close_reason)
        message = await resolution(queue, task_id)
    log = task_log(settings, task_id)
    assert outcome(message) == ("completed", "completed"), log
    assert "shell session 1 opened" in log and "shell session 1 closed" in log
    assert "sum-42" not in log  # what a session prints is not the task's output


async def test_a_failed_task_is_kept_alive_for_debugging_with_its_shell(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    script = "echo evidence > clue.txt; exit 3"
    task_payload = interactive(engine, image, script, keepAliveOnFailure=8)
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(queue, engine, task_payload, scopes=scopes(engine))
        viewer = Viewer(session, await live_url(queue, task_id))
        await viewer.start()
        await viewer.wait_for(b"its environment is kept 8 s for debugging")
        socket = await shell_socket(queue, task_id)
        async with ShellSession(session, socket) as shell:
            clue = (
                b"/work/clue.txt" if engine == "docker" else b"clue.txt"
            )  # where the task wrote it
            await shell.send(b"cat " + clue + b"\n")
            await read_until(shell, b"evidence")
        assert _exists(engine, settings.work_dir, task_id)
        message = await resolution(queue, task_id)
    assert outcome(message) == ("failed", "failed")
    assert not _exists(engine, settings.work_dir, task_id)
    assert "result: failed (exit code 3)" in task_log(settings, task_id)


def _exists(engine: str, work_dir: Path, task_id: str) -> bool:
    name = f"infrax-{task_id}-0"
    if engine == "process":
        return (work_dir / "tasks" / name).is_dir()
    client_ = docker.from_env()
    try:
        client_.containers.get(name)
        return True
    except docker.errors.NotFound:
        return False
    finally:
        client_.close()


async def test_a_bad_frame_closes_only_its_session_and_the_limit_holds(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine, max_shell_sessions=2)
    script = WAIT.format(go=go_path(engine))
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(
            queue, engine, interactive(engine, image, script), scopes=scopes(engine)
        )
        socket = await shell_socket(queue, task_id)
        async with ShellSession(session, socket) as good, ShellSession(session, socket) as bad:
            with pytest.raises(Exception, match="429"):
                async with ShellSession(session, socket):
                    pass
            assert bad.socket is not None
            await bad.socket.send_bytes(b"\x07nonsense")
            async for _ in bad:
                pass
            assert bad.close_code == 1003, bad.close_reason
            await good.send(b"echo still-$((1+1))\n")
            await read_until(good, b"still-2")
            await good.send(b"touch " + go_path(engine).encode() + b"; echo let-$((2+3))\n")
            await read_until(good, b"let-5")
        message = await resolution(queue, task_id)
    assert outcome(message) == ("completed", "completed")
    assert daemon.context.live.session_count == 0


async def test_a_run_without_the_feature_has_no_shell(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(
            queue, engine, payload(engine, image, "echo plain; " + WAIT.format(go=go_path(engine)))
        )
        viewer = Viewer(session, await live_url(queue, task_id))
        await viewer.start()
        await viewer.wait_for(b"plain\n")
        async with client(queue) as q:
            with pytest.raises(ResourceNotFound):
                await q.artifact(task_id, 0, SHELL_ARTIFACT)
            secret = (await live_url(queue, task_id)).rsplit("/", 1)[1]
            with pytest.raises(ResourceNotFound, match=r"features\.interactive"):
                async with q.shell(task_id, 0, secret):
                    pass
        live = daemon.context.live
        live.find("log", task_id, 0, secret)  # the run is there; only its shell is not
        if engine == "process":
            (settings.work_dir / "tasks" / f"infrax-{task_id}-0" / "go").touch()
        else:
            _touch_in_container(task_id)
        await resolution(queue, task_id)


def _touch_in_container(task_id: str) -> None:
    client_ = docker.from_env()
    try:
        client_.containers.get(f"infrax-{task_id}-0").exec_run(["touch", "/tmp/go"])
    finally:
        client_.close()


async def test_interactive_without_the_scope_is_malformed_payload(
    queue: RunningQueue, tmp_path: Path, engine: str, image: str
) -> None:
    settings = worker_settings(queue, tmp_path, engine)
    async with running_worker(settings):
        task_id = await create(queue, engine, interactive(engine, image, "true"))
        message = await resolution(queue, task_id)
    assert outcome(message) == ("exception", "malformed-payload")
    assert scopes(engine)[0] in task_log(settings, task_id)
