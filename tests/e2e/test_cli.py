"""The `infrax` command end to end: the queue as a subprocess, clients managed by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import slugid
import taskcluster
from taskcluster.exceptions import TaskclusterAuthFailure

from tests.e2e.conftest import INFRAX
from tests.e2e.system import infrax_in
from tests.helpers import task_definition


def infrax(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKCLUSTER_")}
    return subprocess.run([*INFRAX, *args], capture_output=True, text=True, timeout=60, env=env)


def test_queue_prints_its_root_url_and_the_cli_manages_clients(served: tuple[str, Path]) -> None:
    root_url, data_dir = served
    base = ["auth", "--root-url", root_url, "--data-dir", str(data_dir), "--json"]
    made = infrax(
        *base,
        "create-client",
        "ci/builder",
        "--scope",
        "queue:create-task:*",
        "--scope",
        "queue:scheduler-id:-",
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["scopes"] == ["queue:create-task:*", "queue:scheduler-id:-"]
    creds = {"clientId": created["clientId"], "accessToken": created["accessToken"]}
    q = taskcluster.Queue({"rootUrl": root_url, "credentials": creds, "maxRetries": 0})
    assert q.createTask(slugid.nice(), task_definition())["status"]["state"] == "pending"
    listed = json.loads(infrax(*base, "list", "--prefix", "ci/").stdout)
    assert [c["clientId"] for c in listed] == ["ci/builder"]
    assert infrax(*base, "delete", "ci/builder").returncode == 0
    with pytest.raises(TaskclusterAuthFailure):
        q.status(slugid.nice())
    refused = infrax("auth", "--root-url", root_url, "list")
    assert refused.returncode == 4
    assert "InsufficientScopes" in refused.stderr


def test_cli_exit_codes_say_what_went_wrong(tmp_path: Path) -> None:
    unconfigured = infrax_in(tmp_path, "auth", "list")  # no ./infrax-data/local.json there
    assert unconfigured.returncode == 2
    assert "TASKCLUSTER_ROOT_URL" in unconfigured.stderr
    unreadable = infrax(
        "auth", "--root-url", "http://127.0.0.1:9", "--data-dir", str(tmp_path), "list"
    )
    assert unreadable.returncode == 2
    assert "root-credentials.json" in unreadable.stderr
