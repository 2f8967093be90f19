"""`infrax graph submit` and `infrax rerun --subtree` as commands against a real queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import taskcluster
import yaml

from tests.conftest import ROOT_TOKEN, RunningQueue

INFRAX = [sys.executable, "-m", "clients.cli.main"]


def infrax(queue: RunningQueue, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TASKCLUSTER_", "INFRAX_"))}
    env |= {"TASKCLUSTER_CLIENT_ID": "root", "TASKCLUSTER_ACCESS_TOKEN": ROOT_TOKEN}
    command = [*INFRAX, *args, "--root-url", queue.root_url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def _graph() -> dict[str, object]:
    """50 tasks: a diamond (fetch -> build-a, build-b -> link) and 46 tests after link."""
    tasks: dict[str, object] = {
        "fetch": {},
        "build-a": {"dependencies": ["fetch"]},
        "build-b": {"dependencies": ["fetch"]},
        "link": {"dependencies": ["build-a", "build-b"]},
    }
    for n in range(46):  # listed before what they depend on would be, to test the ordering
        tasks[f"test-{n:02}"] = {"dependencies": ["link"] if n % 2 else ["link", "build-a"]}
    ordered = dict(reversed(list(tasks.items())))
    return {
        "defaults": {"taskQueueId": "test/graph", "deadline": {"$fromNow": "1 hour"}},
        "tasks": ordered,
    }


def test_a_fifty_task_graph_with_a_diamond_lands_in_one_group(
    queue: RunningQueue, tmp_path: Path
) -> None:
    path = tmp_path / "graph.yml"
    path.write_text(yaml.safe_dump(_graph()))
    done = infrax(queue, "graph", "submit", str(path), "--json")
    assert done.returncode == 0, done.stderr
    submitted = json.loads(done.stdout)
    ids, group = submitted["taskIds"], submitted["taskGroupId"]
    assert len(ids) == 50
    q = taskcluster.Queue(queue.root_options())
    listed = q.listTaskGroup(group)["tasks"]
    assert len(listed) == 50
    by_id = {t["status"]["taskId"]: t for t in listed}
    assert sorted(by_id) == sorted(ids.values())
    link = by_id[ids["link"]]["task"]
    assert sorted(link["dependencies"]) == sorted([ids["build-a"], ids["build-b"]])
    assert by_id[ids["test-00"]]["task"]["dependencies"] == [ids["link"], ids["build-a"]]
    assert by_id[ids["fetch"]]["status"]["state"] == "pending"
    assert all(
        t["status"]["state"] == "unscheduled" for tid, t in by_id.items() if tid != ids["fetch"]
    )
    assert by_id[ids["build-a"]]["task"]["metadata"]["name"] == "build-a"

    text = infrax(queue, "graph", "submit", str(path))
    assert text.returncode == 0
    assert f"page: {queue.root_url}/tasks/groups/" in text.stdout

    # fetch fails; the whole graph below it is rebuilt by one call once it is rerun.
    [claim] = q.claimWork("test/graph", {"workerGroup": "g", "workerId": "w", "tasks": 1})["tasks"]
    assert claim["status"]["taskId"] == ids["fetch"]
    q.reportFailed(ids["fetch"], 0)
    rerun = infrax(queue, "rerun", "--subtree", ids["fetch"], "--json")
    assert rerun.returncode == 0, rerun.stderr
    answer = json.loads(rerun.stdout)
    assert answer["status"]["state"] == "pending" and answer["waiting"] == []
    assert q.status(ids["link"])["status"]["state"] == "unscheduled"


def test_a_graph_with_a_cycle_or_unknown_label_creates_nothing(
    queue: RunningQueue, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(
        yaml.safe_dump(
            {"tasks": {"a": {"dependencies": ["b"]}, "b": {"dependencies": ["a"]}, "c": {}}}
        )
    )
    refused = infrax(queue, "graph", "submit", str(path))
    assert refused.returncode == 2 and "cycle: a, b" in refused.stderr
    path.write_text(yaml.safe_dump({"tasks": {"a": {"dependencies": ["nope"]}}}))
    unknown = infrax(queue, "graph", "submit", str(path))
    assert unknown.returncode == 2 and "unknown labels: nope" in unknown.stderr
    q = taskcluster.Queue(queue.root_options())
    assert q.listTaskQueues()["taskQueues"] == []
