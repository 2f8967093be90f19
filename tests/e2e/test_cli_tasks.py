"""`infrax submit|status|task|cancel|group|watch|queues` end to end: the queue and a worker
(process engine) as their own processes, the commands as subprocesses."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import slugid
import taskcluster

from tests.e2e.conftest import INFRAX, clean_env
from tests.helpers import task_definition

PROCESS_QUEUE = "local/process"
Served = tuple[str, Path]


def infrax(served: Served, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    root_url, data_dir = served
    command = [*INFRAX, args[0], "--root-url", root_url, "--data-dir", str(data_dir), *args[1:]]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=clean_env())


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def root_queue(served: Served) -> taskcluster.Queue:
    root_url, data_dir = served
    saved = json.loads((data_dir / "root-credentials.json").read_text())
    return taskcluster.Queue({"rootUrl": root_url, "credentials": saved, "maxRetries": 0})


@pytest.fixture
def worker(served: Served, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """`infrax worker` serving local/process with the process engine."""
    root_url, data_dir = served
    saved = json.loads((data_dir / "root-credentials.json").read_text())
    env = clean_env() | {
        "TASKCLUSTER_CLIENT_ID": saved["clientId"],
        "TASKCLUSTER_ACCESS_TOKEN": saved["accessToken"],
    }
    args = ["worker", "--root-url", root_url, "--task-queue-id", PROCESS_QUEUE, "--engine",
            "process", "--work-dir", str(tmp_path / "work"), "--empty-poll-pause", "0.1"]  # fmt: skip
    process = subprocess.Popen(
        [*INFRAX, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(60)


def test_submit_wait_exits_with_the_tasks_result(
    served: Served, worker: subprocess.Popen[str]
) -> None:
    base = ("submit", "--task-queue-id", PROCESS_QUEUE, "--wait")
    completed = infrax(served, *base, "--env", "WORD=hello", "--", "sh", "-c", 'echo "$WORD"')
    assert completed.returncode == 0, completed.stderr
    assert "completed" in completed.stdout
    task_id = completed.stdout.split()[1]  # `task    <taskId>` comes first
    failed = infrax(served, *base, "--json", "--", "sh", "-c", "exit 3")
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["status"]["state"] == "failed"
    status = as_json(infrax(served, "status", task_id, "--json"))["status"]
    assert (status["state"], status["taskQueueId"]) == ("completed", PROCESS_QUEUE)
    task = as_json(infrax(served, "task", task_id, "--json"))
    assert task["payload"]["command"] == [["sh", "-c", 'echo "$WORD"']]
    assert task["payload"]["env"] == {"WORD": "hello"}
    assert task["metadata"]["name"] == "sh -c 'echo \"$WORD\"'"
    assert "@" in task["metadata"]["owner"]


def test_a_cancelled_task_makes_submit_wait_exit_3(served: Served) -> None:
    root_url, data_dir = served
    command = [*INFRAX, "submit", "--root-url", root_url, "--data-dir", str(data_dir),
               "--task-queue-id", "nobody/serves-this", "--wait", "--", "true"]  # fmt: skip
    waiting = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
    )
    assert waiting.stdout is not None
    task_id = waiting.stdout.readline().split()[1]
    cancelled = infrax(served, "cancel", task_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "exception" in cancelled.stdout
    assert waiting.wait(60) == 3
    assert "exception" in waiting.stdout.read()


def test_submit_builds_a_docker_payload_by_default_and_from_a_file(
    served: Served, tmp_path: Path
) -> None:
    made = as_json(infrax(served, "submit", "--json", "--image", "alpine:3", "--artifact",
                          "public/out.txt=/out.txt", "--max-run-time", "5m", "--", "make", "all"))  # fmt: skip
    task = as_json(infrax(served, "task", made["taskId"], "--json"))
    assert task["taskQueueId"] == "local/docker"
    assert task["payload"] == {
        "image": "alpine:3",
        "command": ["make", "all"],
        "env": {},
        "maxRunTime": 300,
        "artifacts": {"public/out.txt": {"type": "file", "path": "/out.txt"}},
    }
    path = tmp_path / "task.yml"
    path.write_text(
        "deadline: 2h\nmetadata: {name: nightly}\npayload: {command: [[date]], maxRunTime: 60}\n"
    )
    from_file = as_json(
        infrax(served, "submit", "--json", "--file", str(path), "--task-queue-id", "prov/nightly")
    )
    task = as_json(infrax(served, "task", from_file["taskId"], "--json"))
    assert (task["taskQueueId"], task["metadata"]["name"]) == ("prov/nightly", "nightly")
    both = infrax(served, "submit", "--file", str(path), "--", "echo")
    assert both.returncode == 2
    assert "not both" in both.stderr


def test_group_shows_the_tasks_as_a_tree_by_dependency(served: Served) -> None:
    queue, group = root_queue(served), slugid.nice()
    ids = {name: slugid.nice() for name in ("fetch", "build", "test", "lint")}
    needs = {"fetch": [], "build": ["fetch"], "test": ["build"], "lint": ["fetch"]}
    for name, task_id in ids.items():
        definition = task_definition("prov/tree", taskGroupId=group,
                                     dependencies=[ids[d] for d in needs[name]])  # fmt: skip
        definition["metadata"]["name"] = name  # type: ignore[index]
        queue.createTask(task_id, definition)
    shown = infrax(served, "group", group)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"task group {group}: 4 tasks")
    depth = {name: _depth(lines, task_id) for name, task_id in ids.items()}
    assert depth == {"fetch": 1, "build": 2, "test": 3, "lint": 2}
    assert "pending" in next(line for line in lines if ids["fetch"] in line)
    assert "unscheduled" in next(line for line in lines if ids["test"] in line)
    listed = as_json(infrax(served, "group", group, "--json"))
    assert {t["status"]["taskId"] for t in listed["tasks"]} == set(ids.values())


def _depth(lines: list[str], task_id: str) -> int:
    """How deep a task's line is in rich's tree (4 columns per level)."""
    line = next(line for line in lines if task_id in line)
    return line.index(task_id) // 4


def test_watch_prints_only_the_selected_groups_messages(served: Served) -> None:
    root_url = served[0]
    group = slugid.nice()
    command = [*INFRAX, "watch", "--root-url", root_url, "--task-group", group,
               "--exchange", "task-defined", "--count", "2", "--json"]  # fmt: skip
    watching = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
    )
    assert watching.stderr is not None
    assert "watching" in watching.stderr.readline()  # subscribed: what follows is seen
    queue = root_queue(served)
    queue.createTask(slugid.nice(), task_definition(taskGroupId=slugid.nice()))
    mine = [slugid.nice(), slugid.nice()]
    for task_id in mine:
        queue.createTask(task_id, task_definition(taskGroupId=group))
    out, _ = watching.communicate(timeout=60)
    assert watching.returncode == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["payload"]["status"]["taskId"] for r in records] == mine
    assert {r["exchange"] for r in records} == {"task-defined"}


def test_queues_shows_counts_and_workers(served: Served, worker: subprocess.Popen[str]) -> None:
    queue = root_queue(served)
    for _ in range(2):
        queue.createTask(slugid.nice(), task_definition("prov/idle"))
    ran = infrax(served, "submit", "--task-queue-id", PROCESS_QUEUE, "--wait", "--", "true")
    assert ran.returncode == 0, ran.stderr
    views = {
        v["taskQueueId"]: v
        for v in as_json(infrax(served, "queues", "prov/idle", "--json"))["taskQueues"]
    }
    assert (views["prov/idle"]["pendingTasks"], views["prov/idle"]["claimedTasks"]) == (2, 0)
    assert views["prov/idle"]["workers"] == []
    assert len(views[PROCESS_QUEUE]["workers"]) == 1
    table = infrax(served, "queues", "prov/idle", "--workers")
    assert table.returncode == 0, table.stderr
    assert "prov/idle" in table.stdout and PROCESS_QUEUE in table.stdout


def test_exit_codes_for_refusals_and_an_unreachable_queue(served: Served) -> None:
    missing = infrax(served, "status", slugid.nice())
    assert missing.returncode == 4
    assert "404 ResourceNotFound" in missing.stderr
    task_id = slugid.nice()
    root_queue(served).createTask(task_id, task_definition())
    anonymous = subprocess.run(
        [*INFRAX, "cancel", task_id, "--root-url", served[0]],
        capture_output=True, text=True, timeout=60, env=clean_env(),
    )  # fmt: skip
    assert anonymous.returncode == 4
    assert "InsufficientScopes" in anonymous.stderr
    unreachable = subprocess.run(
        [*INFRAX, "status", slugid.nice(), "--root-url", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=120, env=clean_env(),
    )  # fmt: skip
    assert unreachable.returncode == 5
    assert "cannot reach the queue" in unreachable.stderr


def test_submit_wait_and_follow_show_why_a_refused_payload_ended_as_exception(
    served: Served, worker: subprocess.Popen[str]
) -> None:
    # a docker-worker payload on the process engine's queue: exception/malformed-payload
    base = ("submit", "--task-queue-id", PROCESS_QUEUE, "--engine", "docker")
    why = "the payload is invalid: Object contains unknown field `image`"
    waited = infrax(served, *base, "--wait", "--", "true")
    assert waited.returncode == 3, waited.stderr
    status_at = next(i for i, line in enumerate(waited.stdout.splitlines()) if "exception" in line)
    explained = waited.stdout.splitlines()[status_at + 1 : status_at + 3]
    assert [line.split("] ", 1)[1] for line in explained] == [
        why,
        "result: exception/malformed-payload",
    ], waited.stdout
    assert all(line.startswith("[infrax ") for line in explained)
    followed = infrax(served, *base, "--follow", "--", "true")
    assert followed.returncode == 3, followed.stderr
    assert why in followed.stdout
    assert followed.stderr.splitlines()[-1].endswith(": exception/malformed-payload")


def test_submit_wait_shows_the_exit_code_of_a_failed_task(
    served: Served, worker: subprocess.Popen[str]
) -> None:
    base = ("submit", "--task-queue-id", PROCESS_QUEUE, "--wait")
    failed = infrax(served, *base, "--", "sh", "-c", "echo to stdout; exit 3")
    assert failed.returncode == 1, failed.stderr
    closing = [line for line in failed.stdout.splitlines() if line.startswith("[infrax ")]
    assert closing[-1].endswith("] result: failed (exit code 3)"), failed.stdout
    assert "to stdout" not in failed.stdout  # the task's own output is not repeated
