"""The process provider: each worker is an `infrax worker` process on this host.

A worker starts in its own session, with an environment built from scratch (nothing of the
provisioner's, its credentials above all, reaches it): where the queue and the worker-manager
API are, its identity and its one-time registration secret, as `INFRAX_WORKER_*` variables,
plus the launch config's `env`. Its output goes to `<data dir>/workers/<workerId>.log`, whose
end is quoted in the pool's error when it dies before registering. Its task directories are
under `<data dir>/workers/<workerId>/`, removed once it is gone.

Stopping sends SIGTERM (the worker stops claiming and drains); a second request sends it again
(the worker skips its grace and reports its runs worker-shutdown); after that, the worker and
everything it started are killed. The provider finds its workers again after a restart of the
provisioner by pid and start time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from clients.protocol.pool_config import ProcessLaunchConfig

from .base import LaunchError, Liveness, WorkerCheck, WorkerLaunch, WorkerRef

__all__ = ["ProcessProvider", "worker_environment"]

TAIL_BYTES = 4096
BASE_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "DOCKER_HOST")


def worker_environment(
    launch: WorkerLaunch,
    work_dir: str,
    extra: dict[str, str],
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables a launched worker is configured with: never the provisioner's own, but
    for a few harmless ones of `base` (this process's environment by default)."""
    base = os.environ if base is None else base
    env = {name: base[name] for name in BASE_ENV if name in base}
    env.update(extra)
    env.update(
        {
            "TASKCLUSTER_ROOT_URL": launch.queue_root_url,
            "INFRAX_WORKER_TASK_QUEUE_ID": launch.worker_pool_id,
            "INFRAX_WORKER_WORKER_GROUP": launch.worker_group,
            "INFRAX_WORKER_WORKER_ID": launch.worker_id,
            "INFRAX_WORKER_WORK_DIR": work_dir,
            "INFRAX_WORKER_PROVISIONER_URL": launch.provisioner_url,
            "INFRAX_WORKER_PROVIDER_ID": launch.provider_id,
            "INFRAX_WORKER_REGISTRATION_SECRET": launch.registration_secret,
        }
    )
    return env


class ProcessProvider:
    provider_type = "process"
    starts_workers = True

    def __init__(self, provider_id: str, workers_dir: Path) -> None:
        self.provider_id = provider_id
        self.workers_dir = workers_dir
        self._children: dict[str, asyncio.subprocess.Process] = {}
        self._stops: dict[str, int] = {}

    async def start_worker(self, launch: WorkerLaunch) -> dict[str, Any]:
        config = launch.launch_config
        assert isinstance(config, ProcessLaunchConfig)
        command = config.command if isinstance(config.command, list) else _infrax_worker()
        work_dir = self.workers_dir / launch.worker_id
        work_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.workers_dir / f"{launch.worker_id}.log"
        env = worker_environment(launch, str(work_dir), config.env)
        try:
            with log_path.open("ab") as log:
                child = await asyncio.create_subprocess_exec(
                    *command,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    env=env,
                    cwd=work_dir,
                    start_new_session=True,
                )
        except (OSError, ValueError) as error:
            shutil.rmtree(work_dir, ignore_errors=True)
            raise LaunchError(f"cannot run {command[0]!r}: {error}") from None
        self._children[launch.worker_id] = child
        started = _create_time(child.pid)
        return {
            "pid": child.pid,
            "createTime": started,
            "log": str(log_path),
            "workDir": str(work_dir),
        }

    async def check_worker(self, worker: WorkerRef) -> WorkerCheck:
        child = self._children.get(worker.worker_id)
        if child is not None:
            if child.returncode is None:
                return WorkerCheck(Liveness.alive)
            return WorkerCheck(Liveness.gone, child.returncode, _tail(worker))
        if _same_process(worker.provider_data):
            return WorkerCheck(Liveness.alive)
        return WorkerCheck(Liveness.gone, None, _tail(worker))

    async def stop_worker(self, worker: WorkerRef) -> None:
        if not _same_process(worker.provider_data):
            return
        pid = int(worker.provider_data["pid"])
        asked = self._stops.get(worker.worker_id, 0) + 1
        self._stops[worker.worker_id] = asked
        if asked <= 2:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            return
        _kill_tree(pid)

    async def release_worker(self, worker: WorkerRef) -> None:
        child = self._children.pop(worker.worker_id, None)
        if child is not None and child.returncode is None:
            await child.wait()
        self._stops.pop(worker.worker_id, None)
        work_dir = worker.provider_data.get("workDir")
        if isinstance(work_dir, str):
            await asyncio.to_thread(shutil.rmtree, work_dir, True)

    async def close(self) -> None:
        return None  # workers outlive the provisioner; a restart finds them by pid


def _infrax_worker() -> list[str]:
    return [sys.executable, "-m", "clients.cli.main", "worker"]


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _same_process(data: dict[str, Any]) -> bool:
    """Whether the worker's process still runs (the pid not reused by another)."""
    pid = data.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        process = psutil.Process(pid)
        alive = process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        return alive and process.create_time() == data.get("createTime")
    except psutil.Error:
        return False


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for process in family:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _tail(worker: WorkerRef) -> str:
    path = worker.provider_data.get("log")
    if not isinstance(path, str):
        return ""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - TAIL_BYTES))
            return log.read().decode(errors="replace")
    except OSError:
        return ""
