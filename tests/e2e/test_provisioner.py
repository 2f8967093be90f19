"""The provisioner end to end (protocol.md, "Worker-manager"): `infrax queue` and
`infrax provisioner` as processes, workers started by the process and docker providers (real
processes, real containers), driven through the official Taskcluster clients and `infrax
pools`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clients.protocol.times import parse_time
from tests.e2e.provisioner_system import INFRAX, System, clean_env, running_system, wait_for

pytestmark = pytest.mark.slow

FAST = {"terminateCheck": 1, "emptyPollPause": 0.2}  # workerConfig: quick to hear "terminate"


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    with running_system(tmp_path) as running:
        yield running


def _pool(system: System, pool_id: str) -> dict[str, Any]:
    return system.manager().workerPool(pool_id)  # type: ignore[no-any-return]


def _resolved(system: System, task_ids: list[str]) -> bool | None:
    counts = system.queue().taskQueueCounts(system.queue().task(task_ids[0])["taskQueueId"])
    return True if counts["pendingTasks"] + counts["claimedTasks"] == 0 else None


def _most_at_once(workers: list[dict[str, Any]]) -> int:
    """The most workers alive at one moment, from their creation and stop times."""
    events = []
    for worker in workers:
        events.append((parse_time(worker["created"]), 1))
        events.append((parse_time(worker["lastModified"]), -1))
    alive = most = 0
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):
        alive += change
        most = max(most, alive)
    return most


@pytest.mark.parametrize("kind", ["process", "docker"])
def test_forty_pending_tasks_bring_a_pool_to_six_workers_then_back_to_zero(
    system: System, kind: str, request: pytest.FixtureRequest
) -> None:
    provider = "process"
    if kind == "docker":
        request.getfixturevalue("docker_client")  # no engine: skip, or fail under CI
        provider = system.docker_provider
    pool_id = f"e2e-scale/{kind}"
    launch = {"workerConfig": FAST}
    system.create_pool(
        pool_id, provider, {"minCapacity": 0, "maxCapacity": 6, "launchConfigs": [launch]}
    )
    task_ids = system.create_tasks(pool_id, "sleep 2", 40)
    wait_for(
        lambda: True if _pool(system, pool_id)["runningCount"] == 6 else None,
        timeout=240,
        what="six running workers",
    )
    wait_for(lambda: _resolved(system, task_ids), timeout=300, what="the queue to drain")
    states = {system.queue().status(t)["status"]["state"] for t in task_ids}
    assert states == {"completed"}
    wait_for(
        lambda: (
            True
            if _pool(system, pool_id)["currentCapacity"] == 0 and not system.live(pool_id)
            else None
        ),
        timeout=120,
        what="the pool to shrink to zero",
    )
    workers = system.workers(pool_id)
    assert len(workers) >= 6
    assert _most_at_once(workers) == 6
    assert system.manager().listWorkerPoolErrors(pool_id)["workerPoolErrors"] == []


def test_a_pool_with_min_capacity_keeps_it_and_returns_to_it(system: System) -> None:
    pool_id = "e2e-min/process"
    config = {"minCapacity": 2, "maxCapacity": 4, "launchConfigs": [{"workerConfig": FAST}]}
    system.create_pool(pool_id, "process", config)
    wait_for(
        lambda: True if _pool(system, pool_id)["runningCount"] == 2 else None, what="two workers"
    )
    kept = {w["workerId"] for w in system.live(pool_id)}
    until = time.monotonic() + 5  # ten passes of the loop: nobody is told to go, nobody added
    while time.monotonic() < until:
        assert {w["workerId"] for w in system.workers(pool_id)} == kept
        time.sleep(0.25)
    task_ids = system.create_tasks(pool_id, "sleep 3", 4)
    wait_for(
        lambda: True if _pool(system, pool_id)["runningCount"] == 4 else None, what="four workers"
    )
    wait_for(lambda: _resolved(system, task_ids), what="the tasks")
    back = wait_for(
        lambda: live if len(live := system.live(pool_id)) == 2 else None,
        what="the pool back at its minimum",
    )
    # It shrank to its minimum without going under: the two left are not told to go and never
    # heard it (a worker told once leaves even if the decision is taken back), and none was
    # launched to replace workers told to go beyond the surplus.
    for worker in back:
        answer = system.manager().shouldWorkerTerminate(
            pool_id, worker["workerGroup"], worker["workerId"]
        )
        assert answer["terminate"] is False, (worker["workerId"], answer)
        log = system.tmp / "provisioner" / "workers" / f"{worker['workerId']}.log"
        assert "terminating" not in log.read_text(), worker["workerId"]
    assert len(system.workers(pool_id)) == 4
    assert _pool(system, pool_id)["runningCount"] == 2


def test_a_static_worker_registers_with_its_secret_claims_and_is_removed(
    system: System, tmp_path: Path
) -> None:
    pool_id = "e2e-static/desk"
    system.create_pool(pool_id, "static", {"workerConfig": {"capacity": 2, "engine": "process"}})
    made = system.infrax("pools", "--json", "create-worker", pool_id, "desk", "m1")
    assert made.returncode == 0, made.stderr
    secret = json.loads(made.stdout)["staticSecret"]
    env = {**clean_env(), "INFRAX_WORKER_REGISTRATION_SECRET": secret}
    args = ["worker", "--root-url", system.root_url, "--task-queue-id", pool_id]
    args += ["--worker-group", "desk", "--worker-id", "m1", "--work-dir", str(tmp_path / "m1")]
    args += ["--provisioner-url", system.worker_manager_url, "--terminate-check", "1"]
    log = (tmp_path / "m1.log").open("w")
    worker = subprocess.Popen([*INFRAX, *args], stdout=log, stderr=subprocess.STDOUT, env=env)
    system.processes.append(worker)  # type: ignore[arg-type]
    task_ids = system.create_tasks(pool_id, "echo hello from my machine", 3)
    wait_for(lambda: _resolved(system, task_ids), what="the static worker's tasks")
    for task_id in task_ids:
        [run] = system.runs(task_id)
        assert (run["state"], run["workerGroup"], run["workerId"]) == ("completed", "desk", "m1")
    removed = system.infrax("pools", "remove-worker", pool_id, "desk", "m1")
    assert removed.returncode == 0, removed.stderr
    assert worker.wait(60) == 0  # told to terminate, it drains and exits
    assert "terminating" in (tmp_path / "m1.log").read_text()


@pytest.mark.parametrize("kind", ["process", "docker"])
def test_workers_that_fail_at_start_back_off_instead_of_storming(
    system: System, kind: str, request: pytest.FixtureRequest
) -> None:
    pool_id = f"e2e-broken/{kind}"
    if kind == "docker":
        image = request.getfixturevalue("busybox_image")  # it has no command: Docker refuses
        launch: dict[str, Any] = {"image": image}
        provider, expected = system.docker_provider, "launch-failed"
    else:
        launch = {"command": [sys.executable, "-c", "print('broken worker'); raise SystemExit(3)"]}
        provider, expected = "process", "worker-exited"
    system.create_pool(
        pool_id, provider, {"minCapacity": 3, "maxCapacity": 6, "launchConfigs": [launch]}
    )

    def errors_seen(count: int) -> list[dict[str, Any]] | None:
        found = system.manager().listWorkerPoolErrors(pool_id)["workerPoolErrors"]
        return found if len(found) >= count else None

    # The tasks come once the three min-capacity workers have failed, so that the first pass
    # cannot see them and start six at once (tasks created quickly could otherwise race it).
    wait_for(lambda: errors_seen(3), timeout=120, what="the first three failed starts")
    system.create_tasks(pool_id, "true", 10)

    def six_errors() -> list[dict[str, Any]] | None:
        return errors_seen(6)

    errors = sorted(
        wait_for(six_errors, timeout=120, what="six failed starts"), key=lambda e: e["reported"]
    )
    assert {e["kind"] for e in errors} == {expected}
    # Three start at once; then one probe after 1 s, 2 s, 4 s (--backoff-base 1, --backoff-max 4).
    # Without back-off the loop (every 0.5 s) would have failed six times within a second.
    span_s = (parse_time(errors[5]["reported"]) - parse_time(errors[2]["reported"])) / 1000
    assert span_s >= 6.5
    assert len(system.workers(pool_id)) <= len(six_errors() or []) + 1
    shown = system.infrax("pools", "--json", "errors", pool_id)
    assert shown.returncode == 0, shown.stderr
    listed = json.loads(shown.stdout)
    assert len(listed) >= 6
    if kind == "process":
        assert "exit code 3" in listed[0]["description"]
        assert "broken worker" in listed[0]["description"]


def test_removing_a_busy_worker_retries_its_task_elsewhere_at_once(system: System) -> None:
    pool_id = "e2e-remove/process"
    config = {"minCapacity": 0, "maxCapacity": 2, "launchConfigs": [{"workerConfig": FAST}]}
    system.create_pool(pool_id, "process", config)
    [task_id] = system.create_tasks(
        pool_id, 'if [ "$RUN_ID" = 0 ]; then sleep 600; fi; echo done', 1
    )

    def running() -> dict[str, Any] | None:
        runs = system.runs(task_id)
        return runs[0] if runs and runs[0]["state"] == "running" else None

    first = wait_for(running, timeout=120, what="run 0 to start")
    system.manager().removeWorker(pool_id, first["workerGroup"], first["workerId"])
    runs = system.runs(task_id)  # when removeWorker answers, the run is already retried
    assert (runs[0]["state"], runs[0]["reasonResolved"]) == ("exception", "worker-shutdown")
    assert parse_time(runs[0]["resolved"]) < parse_time(runs[0]["takenUntil"]) - 60_000
    assert len(runs) == 2

    def completed() -> dict[str, Any] | None:
        last = system.runs(task_id)[-1]
        return last if last["state"] == "completed" else None

    second = wait_for(completed, timeout=120, what="the retry to complete")
    assert second["runId"] == 1
    assert second["workerId"] != first["workerId"]
    removed = system.manager().worker(pool_id, first["workerGroup"], first["workerId"])
    assert removed["state"] in ("stopping", "stopped")
    wait_for(
        lambda: (
            True
            if system.manager().worker(pool_id, first["workerGroup"], first["workerId"])["state"]
            == "stopped"
            else None
        ),
        what="the removed worker's process to be gone",
    )


def test_an_idle_timeout_in_the_worker_config_makes_idle_workers_leave(system: System) -> None:
    pool_id = "e2e-idle/process"
    worker_config = {"idleTimeout": 2, "terminateCheck": 3600}  # never asks: only idleness
    config = {
        "minCapacity": 0,
        "maxCapacity": 1,
        "launchConfigs": [{"workerConfig": worker_config}],
    }
    system.create_pool(pool_id, "process", config)
    task_ids = system.create_tasks(pool_id, "true", 1)
    wait_for(lambda: _resolved(system, task_ids), what="the task")
    wait_for(lambda: True if not system.live(pool_id) else None, what="the idle worker to leave")
    [worker] = system.workers(pool_id)
    log = system.tmp / "provisioner" / "workers" / f"{worker['workerId']}.log"
    assert "idle_exit" in log.read_text()


def test_stopping_the_provisioner_stops_the_workers_it_launched_which_hold_no_credentials(
    system: System,
) -> None:
    pool_id = "e2e-stop/process"
    system.create_pool(pool_id, "process", {"minCapacity": 2, "maxCapacity": 2})
    wait_for(
        lambda: True if _pool(system, pool_id)["runningCount"] == 2 else None, what="two workers"
    )
    log_dir = system.tmp / "provisioner" / "workers"
    pids = _worker_pids(log_dir, [w["workerId"] for w in system.live(pool_id)])
    token = json.loads((system.tmp / "provisioner-credentials.json").read_text())["accessToken"]
    for pid in pids:  # a worker's environment holds no credentials, only its one-time secret
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"TASKCLUSTER_ACCESS_TOKEN" not in environ
        assert token.encode() not in environ
    [provisioner] = system.processes
    provisioner.terminate()
    assert provisioner.wait(60) == 0
    system.processes.clear()
    wait_for(lambda: True if not any(_alive(pid) for pid in pids) else None, what="workers gone")


def _worker_pids(log_dir: Path, worker_ids: list[str]) -> list[int]:
    pids = []
    for line in subprocess.run(
        ["ps", "-eo", "pid,args"], capture_output=True, text=True
    ).stdout.splitlines():
        if "clients.cli.main worker" in line:
            pid = int(line.split()[0])
            environ = Path(f"/proc/{pid}/environ").read_bytes() if _alive(pid) else b""
            if any(f"INFRAX_WORKER_WORKER_ID={w}".encode() in environ for w in worker_ids):
                pids.append(pid)
    assert len(pids) == len(worker_ids), (pids, worker_ids, os.listdir(log_dir))
    return pids


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return status != "Z"


# A "worker" that registers with its one-time secret, then never claims (a hung worker).
SILENT_WORKER = """
import asyncio, os, time
from clients.client import Options, WorkerManager

async def main():
    async with WorkerManager(Options(os.environ["INFRAX_WORKER_PROVISIONER_URL"])) as manager:
        await manager.register_worker({
            "workerPoolId": os.environ["INFRAX_WORKER_TASK_QUEUE_ID"],
            "providerId": os.environ["INFRAX_WORKER_PROVIDER_ID"],
            "workerGroup": os.environ["INFRAX_WORKER_WORKER_GROUP"],
            "workerId": os.environ["INFRAX_WORKER_WORKER_ID"],
            "workerIdentityProof": {"staticSecret": os.environ["INFRAX_WORKER_REGISTRATION_SECRET"]},
        })
    print("registered; now silent", flush=True)
    time.sleep(600)

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("command", "lifecycle", "kind"),
    [
        (["sleep", "600"], {"registrationTimeout": 2}, "registration-timeout"),
        ([sys.executable, "-c", SILENT_WORKER], {"queueInactivityTimeout": 3}, None),
    ],
    ids=["never-registers", "never-claims"],
)
def test_workers_that_never_register_or_stop_claiming_are_removed(
    system: System, command: list[str], lifecycle: dict[str, int], kind: str | None
) -> None:
    pool_id = "e2e-lifecycle/process"
    config = {
        "minCapacity": 1,
        "maxCapacity": 1,
        "lifecycle": lifecycle,
        "launchConfigs": [{"command": command}],
    }
    system.create_pool(pool_id, "process", config)
    first = wait_for(lambda: next(iter(system.workers(pool_id)), None), what="a worker")

    def stopped() -> dict[str, Any] | None:
        found = system.manager().worker(pool_id, first["workerGroup"], first["workerId"])
        return found if found["state"] == "stopped" else None

    wait_for(stopped, timeout=120, what="the worker to be removed and gone")
    errors = system.manager().listWorkerPoolErrors(pool_id)["workerPoolErrors"]
    if kind is None:  # it had registered: removing it is no failed start
        assert errors == []
    else:
        assert [e["kind"] for e in errors][-1:] == [kind]


def test_launched_workers_reregister_before_their_credentials_lapse(system: System) -> None:
    pool_id = "e2e-rereg/process"
    config = {"minCapacity": 1, "maxCapacity": 1, "lifecycle": {"reregistrationTimeout": 4}}
    system.create_pool(pool_id, "process", config)
    [worker] = wait_for(
        lambda: [w for w in system.live(pool_id) if w["state"] == "running"] or None
    )
    log = system.tmp / "provisioner" / "workers" / f"{worker['workerId']}.log"
    wait_for(
        lambda: True if log.read_text().count("reregistered") >= 3 else None, what="three renewals"
    )
    task_ids = system.create_tasks(pool_id, "true", 1)  # claimed with the latest credentials
    wait_for(lambda: _resolved(system, task_ids), what="the task")
    assert system.runs(task_ids[0])[0]["workerId"] == worker["workerId"]
    assert [w["workerId"] for w in system.live(pool_id)] == [worker["workerId"]]
