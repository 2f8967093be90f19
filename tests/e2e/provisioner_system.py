"""A queue and a provisioner as real processes on loopback, for the provisioner's e2e tests.

Workers are what the providers start: `infrax worker` processes, or containers of the worker
image built from this checkout. The provisioner's client holds exactly
PROVISIONER_CLIENT_SCOPES, never root's `*`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import taskcluster

from clients.protocol.ids import new_slugid
from clients.protocol.worker_manager import PROVISIONER_CLIENT_SCOPES
from tests.e2e.scheduler_system import wait_for

__all__ = ["ROOT", "System", "running_system", "wait_for"]

INFRAX = [sys.executable, "-m", "clients.cli.main"]
ROOT = {"clientId": "root", "accessToken": "root-token-for-provisioner-tests-0123456789"}


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("INFRAX_", "TASKCLUSTER_"))}


def start_daemon(
    args: list[str], prefix: str, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[str], str]:
    """`infrax <args>`, its first line awaited (it names the rootUrl), the rest to `log`."""
    process = subprocess.Popen(
        [*INFRAX, *args], stdout=subprocess.PIPE, stderr=log.open("w"), text=True, env=env
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first.startswith(prefix):
        process.kill()
        raise AssertionError(f"{args[0]} did not start: {first!r}\n{log.read_text()[-3000:]}")
    return process, first.split(" ", 1)[1].strip()


def stop_daemon(process: subprocess.Popen[str], timeout: float = 60) -> None:
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


@dataclass
class System:
    root_url: str
    worker_manager_url: str
    tmp: Path
    docker_provider: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def manager(self) -> Any:
        options = {"rootUrl": self.worker_manager_url, "credentials": ROOT, "maxRetries": 0}
        return taskcluster.WorkerManager(options)

    def queue(self) -> Any:
        return taskcluster.Queue({"rootUrl": self.root_url, "credentials": ROOT, "maxRetries": 0})

    def create_pool(self, pool_id: str, provider: str, config: dict[str, Any]) -> None:
        self.manager().createWorkerPool(
            pool_id,
            {
                "providerId": provider,
                "description": "made by a test",
                "owner": "tests@example.com",
                "emailOnError": False,
                "config": config,
            },
        )

    def workers(self, pool_id: str) -> list[dict[str, Any]]:
        return self.manager().listWorkersForWorkerPool(pool_id)["workers"]  # type: ignore[no-any-return]

    def live(self, pool_id: str) -> list[dict[str, Any]]:
        return [w for w in self.workers(pool_id) if w["state"] != "stopped"]

    def create_tasks(self, pool_id: str, script: str, count: int) -> list[str]:
        queue, now = self.queue(), dt.datetime.now(dt.UTC)
        ids = []
        for _ in range(count):
            task_id = new_slugid()
            queue.createTask(
                task_id,
                {
                    "taskQueueId": pool_id,
                    "created": taskcluster.stringDate(now),
                    "deadline": taskcluster.stringDate(now + dt.timedelta(hours=1)),
                    "payload": {"command": [["sh", "-c", script]], "maxRunTime": 300},
                    "metadata": {
                        "name": "a task",
                        "description": "made by a test",
                        "owner": "tests@example.com",
                        "source": "https://example.com/tests",
                    },
                },
            )
            ids.append(task_id)
        return ids

    def runs(self, task_id: str) -> list[dict[str, Any]]:
        return self.queue().status(task_id)["status"]["runs"]  # type: ignore[no-any-return]

    def infrax(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **clean_env(),
            "TASKCLUSTER_ROOT_URL": self.root_url,
            "TASKCLUSTER_CLIENT_ID": ROOT["clientId"],
            "TASKCLUSTER_ACCESS_TOKEN": ROOT["accessToken"],
            "INFRAX_PROVISIONER_URL": self.worker_manager_url,
        }
        return subprocess.run([*INFRAX, *args], capture_output=True, text=True, env=env, timeout=60)


def _provisioner_credentials(root_url: str, path: Path) -> None:
    auth = taskcluster.Auth({"rootUrl": root_url, "credentials": ROOT})
    made = auth.createClient(
        f"infrax/provisioner-{uuid.uuid4().hex[:8]}",
        {
            "expires": taskcluster.stringDate(taskcluster.fromNow("1 day")),
            "description": "the provisioner of the tests",
            "scopes": list(PROVISIONER_CLIENT_SCOPES),
        },
    )
    path.write_text(json.dumps({k: made[k] for k in ("clientId", "accessToken")}))


@contextmanager
def running_system(tmp: Path, *, interval_s: float = 0.5) -> Iterator[System]:
    """The queue and the provisioner (providers static, process and a docker one whose id is
    unique to this test, so its containers are found and removed afterwards)."""
    env = {**clean_env(), "INFRAX_ROOT_ACCESS_TOKEN": ROOT["accessToken"]}
    args = ["queue", "--data-dir", str(tmp / "queue"), "--port", "0"]
    queue, root_url = start_daemon(args, "rootUrl: ", env, tmp / "queue.log")
    docker_provider = f"docker-{uuid.uuid4().hex[:8]}"
    try:
        credentials = tmp / "provisioner-credentials.json"
        _provisioner_credentials(root_url, credentials)
        args = ["provisioner", "--root-url", root_url, "--data-dir", str(tmp / "provisioner")]
        args += ["--port", "0", "--credentials-file", str(credentials)]
        args += ["--interval", str(interval_s), "--backoff-base", "1", "--backoff-max", "4"]
        args += ["--stop-grace", "5", "--provider", "static=static"]
        args += ["--provider", "process=process", "--provider", f"{docker_provider}=docker"]
        provisioner, manager_url = start_daemon(
            args, "workerManagerRootUrl: ", clean_env(), tmp / "provisioner.log"
        )
        system = System(root_url, manager_url, tmp, docker_provider, [provisioner])
        try:
            yield system
        finally:
            for process in system.processes:
                stop_daemon(process)
            _remove_containers(docker_provider)
    finally:
        stop_daemon(queue)


def _remove_containers(provider: str) -> None:
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=infrax.provider={provider}"],
        capture_output=True,
        text=True,
        check=False,
    )
    ids = listed.stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)
