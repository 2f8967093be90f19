"""`infrax logs` and `infrax shell` as processes, against a real queue and worker (process
engine; protocol.md §18.5)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp

from tests.conftest import ROOT_TOKEN, RunningQueue
from tests.livestreams import Viewer, live_url, shell_socket, stored_log
from tests.workers import create, outcome, payload, resolution, running_worker, worker_settings

WAIT = "echo first line; while [ ! -e go ]; do sleep 0.05; done; echo second line; exit {code}"
INTERACTIVE_SCOPE = "generic-worker:interactive:infrax-test/process"


async def _infrax(
    queue: RunningQueue, *args: str, stdin: bytes | None = None
) -> tuple[int, bytes, str]:
    env = {**os.environ, "TASKCLUSTER_CLIENT_ID": "root", "TASKCLUSTER_ACCESS_TOKEN": ROOT_TOKEN}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clients.cli.main",
        *args,
        "--root-url",
        queue.root_url,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 120)
    assert process.returncode is not None
    return process.returncode, out, err.decode()


async def test_logs_follow_prints_the_whole_log_then_the_resolution_and_its_exit_code(
    queue: RunningQueue, tmp_path: Path
) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    async with running_worker(settings) as daemon, aiohttp.ClientSession() as session:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(queue, "process", payload("process", "", WAIT.format(code=3)))
        viewer = Viewer(session, await live_url(queue, task_id))
        await viewer.start()
        await viewer.wait_for(b"first line\n")
        following = asyncio.create_task(_infrax(queue, "logs", task_id, "--follow"))
        snapshot = await _infrax(queue, "logs", task_id)  # the log so far, while it runs
        (settings.work_dir / "tasks" / f"infrax-{task_id}-0" / "go").touch()
        code, out, err = await following
        message = await resolution(queue, task_id)
    assert outcome(message) == ("failed", "failed")
    stored = await stored_log(queue, task_id)
    assert (code, out) == (1, stored), err
    assert f"task {task_id} run 0: failed" in err
    assert snapshot[0] == 0 and b"first line\n" in snapshot[1]
    assert b"\nsecond line\n" not in snapshot[1] and stored.startswith(snapshot[1])
    assert await _infrax(queue, "logs", task_id) == (0, stored, "")  # finished: the stored log


async def test_shell_attaches_with_piped_input_and_a_run_without_a_shell_is_refused(
    queue: RunningQueue, tmp_path: Path
) -> None:
    settings = worker_settings(queue, tmp_path, "process")
    features = {"features": {"interactive": True}}
    async with running_worker(settings) as daemon:
        assert daemon.relay is not None
        await asyncio.wait_for(daemon.relay.connected.wait(), 60)
        task_id = await create(
            queue, "process", payload("process", "", WAIT.format(code=0), **features),
            scopes=[INTERACTIVE_SCOPE],
        )  # fmt: skip
        await shell_socket(queue, task_id)
        code, out, err = await _infrax(
            queue, "shell", task_id, stdin=b"echo hello-$((6*7)); touch go; exit\n"
        )
        assert code == 0, err
        assert b"hello-42" in out
        message = await resolution(queue, task_id)
        plain = await create(queue, "process", payload("process", "", "echo no shell here"))
        await resolution(queue, plain)
        refused = await _infrax(queue, "shell", plain)
    assert outcome(message) == ("completed", "completed")
    assert refused[0] == 4
    assert "has no shell: its payload does not set features.interactive" in refused[2]
