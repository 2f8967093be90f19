"""`infrax reproduce` end to end: tasks created in a real queue (no worker needed: only their
definitions are read), run here as processes or in the real Docker engine."""

from __future__ import annotations

import json
import time
from pathlib import Path

import docker

from tests.e2e.test_cli_tasks import Served, as_json, infrax

UNSERVED_PROCESS = "nobody/process"  # */process: generic-worker payloads
UNSERVED_DOCKER = "nobody/docker"


def submit(served: Served, *args: str) -> str:
    return str(as_json(infrax(served, "submit", "--json", *args))["taskId"])


def test_reproduce_runs_a_process_payload_with_its_env_and_exit_code(
    served: Served, tmp_path: Path
) -> None:
    script = 'echo "$WORD $TASK_ID $RUN_ID"; pwd; echo oops >&2; exit 7'
    task_id = submit(served, "--task-queue-id", UNSERVED_PROCESS, "--env", "WORD=hi",
                     "--", "sh", "-c", script)  # fmt: skip
    task_dir = tmp_path / "task"
    done = infrax(served, "reproduce", task_id, "--task-dir", str(task_dir))
    assert done.returncode == 7, done.stderr
    assert done.stdout.splitlines() == [f"hi {task_id} 0", str(task_dir)]
    assert "oops" in done.stderr
    many = submit(served, "--task-queue-id", UNSERVED_PROCESS, "--file", str(
        _task_file(tmp_path, {"command": [["true"], ["sh", "-c", "echo second"], ["false"],
                                          ["echo", "never"]], "maxRunTime": 60})))  # fmt: skip
    ran = infrax(served, "reproduce", many)
    assert (ran.returncode, ran.stdout) == (1, "second\n"), ran.stderr


def test_reproduce_stops_at_max_run_time(served: Served) -> None:
    task_id = submit(served, "--task-queue-id", UNSERVED_PROCESS, "--max-run-time", "1s",
                     "--", "sleep", "60")  # fmt: skip
    started = time.monotonic()
    done = infrax(served, "reproduce", task_id)
    assert done.returncode == 124, done.stderr
    assert "maxRunTime (1 s) passed" in done.stderr
    assert time.monotonic() - started < 30


def test_reproduce_refuses_what_it_cannot_do_and_says_why(served: Served, tmp_path: Path) -> None:
    from_artifact = {"image": {"type": "task-image", "taskId": "abc", "path": "public/i.tar"},
                     "command": ["true"], "maxRunTime": 60}  # fmt: skip
    proxied = {"command": [["true"]], "maxRunTime": 60, "features": {"taskclusterProxy": True}}
    bad = {"command": "not a list", "maxRunTime": 60}
    for payload, reason in (
        (from_artifact, "its image comes from a task's artifact"),
        (proxied, "features.taskclusterProxy"),
        (bad, "not a valid generic-worker payload"),
    ):
        task_id = submit(served, "--task-queue-id", UNSERVED_PROCESS, "--file",
                         str(_task_file(tmp_path, payload)))  # fmt: skip
        done = infrax(served, "reproduce", task_id)
        assert done.returncode == 2, (payload, done.stderr)
        assert reason in done.stderr
    absent = infrax(served, "reproduce", "aaaaaaaaaaaaaaaaaaaaaa")
    assert absent.returncode == 4


def test_reproduce_runs_a_docker_payload_in_the_engine(
    served: Served, busybox_image: str, docker_client: docker.DockerClient
) -> None:
    script = 'echo "$WORD $TASK_ID"; echo oops >&2; exit 5'
    task_id = submit(served, "--task-queue-id", UNSERVED_DOCKER, "--image", busybox_image,
                     "--env", "WORD=hi", "--", "sh", "-c", script)  # fmt: skip
    done = infrax(served, "reproduce", task_id)
    assert done.returncode == 5, done.stderr
    assert done.stdout == f"hi {task_id}\n"
    assert "oops" in done.stderr
    label = f"infrax.reproduce={task_id}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []
    slow = submit(served, "--task-queue-id", UNSERVED_DOCKER, "--image", busybox_image,
                  "--max-run-time", "2s", "--", "sleep", "60")  # fmt: skip
    timed_out = infrax(served, "reproduce", slow)
    assert timed_out.returncode == 124, timed_out.stderr
    absent = submit(served, "--task-queue-id", UNSERVED_DOCKER, "--image",
                    "infrax-test/absent:none", "--", "true")  # fmt: skip
    missing = infrax(served, "reproduce", absent)
    assert missing.returncode == 5, missing.stderr
    assert "cannot pull image infrax-test/absent:none" in missing.stderr


def _task_file(tmp_path: Path, payload: dict[str, object]) -> Path:
    path = tmp_path / f"task-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps({"payload": payload}))
    return path
