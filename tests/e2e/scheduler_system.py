"""A queue and a scheduler as real processes on loopback, for the scheduler's e2e tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import taskcluster

INFRAX = [sys.executable, "-m", "clients.cli.main"]
ROOT = {"clientId": "root", "accessToken": "root-token-for-scheduler-tests-0123456789"}
TASK_QUEUE = "test/hooks"
# The hook role: tasks in test/hooks at the lowest priority, nothing else.
ROLES = {
    "hook-id:ci/*": [
        f"queue:create-task:lowest:{TASK_QUEUE}",
        "queue:create-task:project:none",
        "queue:scheduler-id:-",
    ]
}
T = TypeVar("T")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("INFRAX_", "TASKCLUSTER_"))}


def _start(args: list[str], prefix: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*INFRAX, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first.startswith(prefix):
        process.kill()
        raise AssertionError(f"{args[0]} did not start: {first!r}")
    return process, first.split(" ", 1)[1].strip()


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


@dataclass
class System:
    root_url: str
    tmp: Path
    schedulers: list[tuple[subprocess.Popen[str], str]] = field(default_factory=list)

    @property
    def hooks_url(self) -> str:
        return self.schedulers[0][1]

    def start_scheduler(self, data_dir: Path | None = None) -> str:
        creds = self.tmp / "scheduler-credentials.json"
        if not creds.exists():
            auth = taskcluster.Auth({"rootUrl": self.root_url, "credentials": ROOT})
            made = auth.createClient(
                "infrax/scheduler",
                {
                    "expires": taskcluster.stringDate(taskcluster.fromNow("1 day")),
                    "description": "the scheduler of the tests",
                    "scopes": ["assume:hook-id:*"],
                },
            )
            creds.write_text(json.dumps({k: made[k] for k in ("clientId", "accessToken")}))
        args = ["scheduler", "--root-url", self.root_url, "--port", "0"]
        args += ["--data-dir", str(data_dir or self.tmp / "scheduler")]
        args += ["--credentials-file", str(creds), "--cron-poll", "1"]
        started = _start(args, "hooksRootUrl: ", _env())
        self.schedulers.append(started)
        return started[1]

    def stop_scheduler(self, index: int = 0) -> None:
        _stop(self.schedulers.pop(index)[0])

    def hooks(self, credentials: dict[str, str] | None = ROOT, url: str | None = None) -> Any:
        options: dict[str, Any] = {"rootUrl": url or self.hooks_url, "maxRetries": 0}
        if credentials is not None:
            options["credentials"] = credentials
        return taskcluster.Hooks(options)

    def queue(self) -> Any:
        return taskcluster.Queue({"rootUrl": self.root_url, "credentials": ROOT, "maxRetries": 0})


@contextmanager
def running_system(tmp: Path) -> Iterator[System]:
    roles = tmp / "roles.json"
    roles.write_text(json.dumps(ROLES))
    env = {**_env(), "INFRAX_ROOT_ACCESS_TOKEN": ROOT["accessToken"]}
    args = ["queue", "--data-dir", str(tmp / "queue"), "--port", "0", "--roles-file", str(roles)]
    queue, root_url = _start(args, "rootUrl: ", env)
    system = System(root_url, tmp)
    try:
        system.start_scheduler()
        yield system
    finally:
        while system.schedulers:
            system.stop_scheduler()
        _stop(queue)


def wait_for(probe: Callable[[], T | None], timeout: float = 60, what: str = "it") -> T:
    """Poll `probe` until it returns something other than None; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def hook_definition(**overrides: Any) -> dict[str, Any]:
    """A hook whose task lands in test/hooks and carries the fire's context in its payload."""
    definition: dict[str, Any] = {
        "metadata": {"name": "a hook", "description": "made by a test", "owner": "t@example.com"},
        "task": {
            "taskQueueId": TASK_QUEUE,
            "payload": {
                "firedBy": {"$eval": "firedBy"},
                "given": {"$eval": "payload"},
                "now": {"$eval": "now"},
            },
            "deadline": {"$fromNow": "1 hour"},
            "metadata": {
                "name": "hook task",
                "description": "created by a hook",
                "owner": "t@example.com",
                "source": "https://example.com/hooks",
            },
        },
        "triggerSchema": {"type": "object"},
    }
    definition.update(overrides)
    return definition
