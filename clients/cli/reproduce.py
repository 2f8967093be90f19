"""`infrax reproduce TASK_ID`: run a task's definition on this machine, without a worker or a
claim, so that a failure can be reproduced (the seeds' "local reproducibility").

A docker-worker payload runs in the local Docker engine as `docker run --rm` would: the same
image (pulled when absent), command, environment and the standard variables the worker sets
(TASK_ID, RUN_ID, TASK_GROUP_ID, TASKCLUSTER_ROOT_URL), unprivileged unless the payload asks
for `capabilities.privileged`, `maxRunTime` as a timeout. A generic-worker payload runs its
commands in sequence as local processes in a fresh task directory (kept, and printed), with
the environment built as the process engine builds it, until the first that fails. Output is
streamed; the exit code is the command's (124 when maxRunTime passes).

What cannot be reproduced is refused with the reason (exit 2): an image from a task artifact or
the index, devices, the taskcluster proxy, chain of trust, a payload that does not decode.
Caches start empty and artifacts are not uploaded (they stay in the task directory or die
with the container); both are said on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import msgspec
from docker.models.containers import Container

from ..client import Queue
from ..protocol.payloads import (
    PROCESS_PATH,
    DockerPayload,
    IndexedImage,
    ProcessPayload,
    TaskImage,
)
from .common import Exit, connection_flags, options_of, run_command

__all__ = ["CannotReproduce", "DockerPlan", "ProcessPlan", "command", "plan_of"]

TIMED_OUT = 124  # as timeout(1): maxRunTime passed
NOT_FOUND = 127  # as a shell: the command does not exist


class CannotReproduce(Exception):  # noqa: N818 (said as is to the user)
    """The payload asks for something this machine cannot do as the worker would."""


@dataclass(frozen=True)
class DockerPlan:
    image: str
    command: tuple[str, ...]  # empty: the image's default command
    env: dict[str, str]
    max_run_time_s: int
    privileged: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcessPlan:
    commands: tuple[tuple[str, ...], ...]
    env: dict[str, str]
    max_run_time_s: int
    notes: tuple[str, ...] = field(default=())


def _asked(features: msgspec.Struct, names: Sequence[str]) -> list[str]:
    wire = dict(zip(features.__struct_fields__, features.__struct_encode_fields__, strict=True))
    return [f"features.{wire[name]}" for name in names if getattr(features, name)]


def _docker_plan(payload: DockerPayload, standard: Mapping[str, str]) -> DockerPlan:
    if isinstance(payload.image, TaskImage | IndexedImage):
        where = "a task's artifact" if isinstance(payload.image, TaskImage) else "the index"
        raise CannotReproduce(f"its image comes from {where}; only image names are reproduced")
    refused = _asked(payload.features, ("taskcluster_proxy", "chain_of_trust", "allow_ptrace"))
    if payload.capabilities.devices:
        refused.append("capabilities.devices")
    if refused:
        raise CannotReproduce(f"it asks for {', '.join(refused)}, which are not reproduced")
    notes = []
    if payload.cache:
        notes.append(f"caches start empty here: {', '.join(sorted(payload.cache))}")
    if payload.artifacts:
        notes.append("artifacts are not uploaded; they go with the container")
    image = payload.image if isinstance(payload.image, str) else payload.image.name
    return DockerPlan(
        image=image,
        command=tuple(payload.command),
        env={**payload.env, **standard},
        max_run_time_s=payload.max_run_time,
        privileged=payload.capabilities.privileged,
        notes=tuple(notes),
    )


def _process_plan(payload: ProcessPayload, standard: Mapping[str, str]) -> ProcessPlan:
    refused = _asked(payload.features, ("taskcluster_proxy", "chain_of_trust"))
    if refused:
        raise CannotReproduce(f"it asks for {', '.join(refused)}, which are not reproduced")
    notes = ("artifacts are not uploaded; they stay in the task directory",) * bool(
        payload.artifacts
    )
    return ProcessPlan(
        commands=tuple(tuple(command) for command in payload.command),
        env={**payload.env, **standard},
        max_run_time_s=payload.max_run_time,
        notes=notes,
    )


def plan_of(payload: Any, standard: Mapping[str, str]) -> DockerPlan | ProcessPlan:
    """How to run a payload here: a docker-worker payload (it has an `image`) or a
    generic-worker one; CannotReproduce saying why when it cannot be."""
    docker_shaped = isinstance(payload, dict) and "image" in payload
    try:
        if docker_shaped:
            return _docker_plan(msgspec.convert(payload, DockerPayload), standard)
        return _process_plan(msgspec.convert(payload, ProcessPayload), standard)
    except msgspec.ValidationError as error:
        shape = "docker-worker" if docker_shaped else "generic-worker"
        raise CannotReproduce(f"its payload is not a valid {shape} payload: {error}") from None


def _say(text: str) -> None:
    sys.stderr.write(f"infrax reproduce: {text}\n")
    sys.stderr.flush()


# -- Docker ---------------------------------------------------------------------------------


def _image(client: docker.DockerClient, image: str) -> None:
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    _say(f"pulling {image}")
    try:
        client.images.pull(image)
    except docker.errors.APIError as error:
        raise ConnectionError(f"cannot pull image {image}: {error.explanation or error}") from None


def _pump(container: Container) -> threading.Thread:
    """Copy the container's stdout and stderr to ours as they come (attached before start)."""
    stream = container.attach(stream=True, logs=True, stdout=True, stderr=True, demux=True)

    def copy() -> None:
        for out, err in stream:
            for chunk, into in ((out, sys.stdout.buffer), (err, sys.stderr.buffer)):
                if chunk:
                    into.write(chunk)
                    into.flush()

    thread = threading.Thread(target=copy, daemon=True)
    thread.start()
    return thread


def run_docker(plan: DockerPlan, task_id: str) -> int:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except (docker.errors.DockerException, OSError) as error:
        raise ConnectionError(f"no Docker engine answers ({error})") from None
    with contextlib.closing(client):
        _image(client, plan.image)
        container = client.containers.create(
            plan.image,
            list(plan.command) or None,
            environment=plan.env,
            labels={"infrax.reproduce": task_id},
            privileged=plan.privileged,
            security_opt=[] if plan.privileged else ["no-new-privileges"],
        )
        try:
            pump = _pump(container)
            container.start()
            pump.join(plan.max_run_time_s)
            if pump.is_alive():
                container.kill()
                _say(f"maxRunTime ({plan.max_run_time_s} s) passed: killed")
                return TIMED_OUT
            return int(container.wait()["StatusCode"])
        finally:
            container.remove(force=True)


# -- processes ------------------------------------------------------------------------------


def _process_env(plan: ProcessPlan, task_dir: Path) -> dict[str, str]:
    """As the process engine builds it: from scratch, never this shell's variables."""
    user = os.environ.get("USER") or "nobody"
    base = {"PATH": PROCESS_PATH, "HOME": str(task_dir), "USER": user, "LOGNAME": user,
            "LANG": "C.UTF-8"}  # fmt: skip
    return {**base, **plan.env, "TASK_WORKDIR": str(task_dir)}


def run_processes(plan: ProcessPlan, task_dir: Path) -> int:
    env = _process_env(plan, task_dir)
    deadline = time.monotonic() + plan.max_run_time_s
    for argv in plan.commands:
        try:
            process = subprocess.Popen(argv, cwd=task_dir, env=env, start_new_session=True)
        except OSError as error:
            _say(f"cannot run {argv[0]!r}: {error.strerror}")
            return NOT_FOUND
        try:
            code = process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"maxRunTime ({plan.max_run_time_s} s) passed: killed")
            return _kill(process, TIMED_OUT)
        except KeyboardInterrupt:
            return _kill(process, Exit.interrupted)
        if code != 0:
            return code
    return 0


def _kill(process: subprocess.Popen[bytes], code: int) -> int:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return code


# -- the command ----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax reproduce",
        description="Run a task's definition on this machine: docker-worker payloads in the"
        " local Docker engine (same image, command, environment; maxRunTime as a timeout),"
        " generic-worker payloads as local processes in a fresh task directory. Exits with the"
        " command's exit code (124: maxRunTime passed; 2: the payload cannot be reproduced).",
        parents=[connection_flags()],
    )
    parser.add_argument("task_id")
    parser.add_argument(
        "--task-dir",
        type=Path,
        help="process payloads: run in this directory [a new one under the temporary directory]",
    )
    return parser


@dataclass
class _Fetched:
    payload: Any = None
    standard: dict[str, str] = field(default_factory=dict)


def _execute(plan: DockerPlan | ProcessPlan, args: argparse.Namespace) -> int:
    for note in plan.notes:
        _say(note)
    if isinstance(plan, DockerPlan):
        _say(f"running {plan.image} in the local Docker engine")
        return run_docker(plan, args.task_id)
    task_dir = args.task_dir or Path(tempfile.mkdtemp(prefix=f"infrax-{args.task_id}-"))
    task_dir.mkdir(parents=True, exist_ok=True)
    _say(f"running in {task_dir}")
    return run_processes(plan, task_dir.resolve())


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    fetched = _Fetched()

    async def body() -> int:
        async with Queue(options_of(args)) as queue:
            task = await queue.task(args.task_id)
            runs = (await queue.status(args.task_id)).status.runs
            fetched.payload = msgspec.to_builtins(task.payload)
            fetched.standard = {
                "TASK_ID": args.task_id,
                "RUN_ID": str(max(len(runs) - 1, 0)),
                "TASK_GROUP_ID": task.task_group_id,
                "TASKCLUSTER_ROOT_URL": queue.options.root_url,
            }
        return Exit.ok

    code = run_command("infrax reproduce", body)
    if code != Exit.ok:
        return code
    try:
        return _execute(plan_of(fetched.payload, fetched.standard), args)
    except CannotReproduce as error:
        _say(f"cannot reproduce {args.task_id}: {error}")
        return Exit.usage
    except ConnectionError as error:
        _say(str(error))
        return Exit.unreachable
    except docker.errors.DockerException as error:
        _say(f"the Docker engine refused: {error}")
        return Exit.unreachable
    except KeyboardInterrupt:
        return Exit.interrupted
