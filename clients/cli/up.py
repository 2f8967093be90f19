"""`infrax up`: the whole system on one machine, for a first look and for local work.

It supervises `infrax queue` (SQLite in the data directory), one `infrax worker` (the Docker
engine when the daemon answers, else the process engine), `infrax scheduler` and
`infrax provisioner` (no pools) as child processes: the CLI may import none of the services
(pyproject's import rules). Each child gets its own client, made with the root credentials
through the auth API, holding only the scopes it needs. `rootUrl: ...` is printed first, on a
line of its own, then the other addresses; `<data dir>/local.json` (clients/cli/local.py)
lets every `infrax` command started from this directory reach the system unconfigured.

SIGINT, SIGTERM or SIGHUP stops the children (SIGTERM, newest first, each waited for) and
exits 0. A child that exits on its own is named with the end of its log, the others are
stopped, and the exit code is 1. The children run in their own sessions so that Ctrl-C in the
terminal reaches `infrax up` alone, which stops them in order; if `infrax up` itself dies (even
by SIGKILL) they see it and stop as on SIGTERM (clients/cli/parent.py). One `infrax up` runs per
data directory (`up.lock`). Each start moves the previous run's `<data dir>/logs/NAME.log` to
`NAME.log.1` (replacing the one before), so the logs never grow across restarts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import signal
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import docker
import docker.errors

from .. import hawk
from ..client import Auth, ClientError, ConfigurationError, Options
from ..protocol.clients_api import CreateClientRequest
from ..protocol.times import format_ms
from ..protocol.worker_manager import PROVISIONER_CLIENT_SCOPES
from .common import Exit
from .local import LocalSystem, data_dir_of, remove_local, write_local
from .parent import ParentPipe
from .taskdef import DEFAULT_IMAGE

__all__ = ["command"]

CHILD = (sys.executable, "-m", "clients.cli.main")
WORKER_GROUP = "local"
START_TIMEOUT_S = 60.0  # a child that prints no address in this time is broken
STOP_GRACE_S = 10.0  # running tasks' time to finish (the worker's --shutdown-grace)
STOP_TIMEOUT_S = STOP_GRACE_S + 20.0  # then a child still running is killed
LOG_TAIL_LINES = 20


class UpError(Exception):
    """A child could not start or died; the message says which and why."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax up",
        description="Run the whole system on this machine: the queue (SQLite in the data"
        " directory), one local worker (Docker engine when the daemon answers, else the process"
        " engine) serving local/docker or local/process, the scheduler and the provisioner."
        " Ctrl-C stops everything. Other `infrax` commands started in the same directory (or"
        " with INFRAX_DATA_DIR) use it without configuration.",
        epilog="It prints `rootUrl: URL` first, then the web page, where the credentials are"
        " (<data dir>/local.json, mode 0600, while it runs), the task queue and the logs"
        " (<data dir>/logs/). Exit code: 0 when stopped by Ctrl-C, SIGTERM or SIGHUP; 1 when a"
        " child could not start or died (named, with the end of its log).",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where everything is kept [INFRAX_DATA_DIR, ./infrax-data]",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    parser.add_argument(
        "--port", type=int, default=8080, help="the queue's port; 0 picks a free one [8080]"
    )
    parser.add_argument(
        "--engine",
        choices=["auto", "docker", "process"],
        default="auto",
        help="the local worker's engine; auto: docker when the daemon answers [auto]",
    )
    parser.add_argument("--capacity", type=int, default=2, help="tasks the worker runs at once [2]")
    return parser


def docker_reachable() -> bool:
    """Whether a Docker daemon answers (DOCKER_HOST, else the default socket)."""
    try:
        client = docker.from_env(timeout=5)
    except (docker.errors.DockerException, OSError):
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False
    finally:
        client.close()


def image_present(image: str) -> bool:
    """Whether the local Docker engine has this image (no pull is tried)."""
    try:
        client = docker.from_env(timeout=5)
    except (docker.errors.DockerException, OSError):
        return False
    try:
        client.images.get(image)
        return True
    except (docker.errors.DockerException, OSError):
        return False
    finally:
        client.close()


def _first_task(engine: str) -> str:
    """The `try:` line: a first submit, and the image it needs when the engine lacks it."""
    line = "try: infrax submit --follow -- echo hello"
    image = os.environ.get("INFRAX_IMAGE") or DEFAULT_IMAGE
    if engine != "docker" or image_present(image):
        return line
    return (
        f"{line}  (Docker pulls {image} first; without a registry give --image of a local"
        " image, or run `infrax up --engine process`)"
    )


def _worker_id() -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "-", socket.gethostname())[:38] or "worker"


def worker_scopes(task_queue_id: str) -> list[str]:
    """What the local worker's own client needs: claim from its queue, be a local worker,
    declare itself (runs act with the temporary credentials claimWork gives)."""
    return [
        f"queue:claim-work:{task_queue_id}",
        f"queue:worker-id:{WORKER_GROUP}/*",
        f"queue:declare-worker:{task_queue_id}/{WORKER_GROUP}/*",
    ]


CHILD_SCOPES: Mapping[str, Sequence[str]] = {
    "scheduler": ["assume:hook-id:*"],  # README, "The scheduler"
    "provisioner": list(PROVISIONER_CLIENT_SCOPES),
}


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    drain: asyncio.Task[None] | None = None

    def tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(f"  {line}" for line in lines[-LOG_TAIL_LINES:])


@dataclass
class Supervisor:
    data_dir: Path
    base_env: dict[str, str]
    parent: ParentPipe = field(default_factory=ParentPipe)
    children: list[Child] = field(default_factory=list)

    async def start(self, name: str, args: Sequence[str], creds: hawk.Credentials | None,
                    announce: str | None) -> tuple[Child, str | None]:  # fmt: skip
        """Start `infrax <args>`; with `announce`, wait for the stdout line starting with it
        and return the rest of that line."""
        env = self.parent.env(self.base_env)
        if creds is not None:
            env["TASKCLUSTER_CLIENT_ID"] = creds.client_id
            env["TASKCLUSTER_ACCESS_TOKEN"] = creds.access_token
        log_path = self.data_dir / "logs" / f"{name}.log"
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *CHILD, *args, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if announce else log, stderr=log,
                env=env, start_new_session=True, pass_fds=(self.parent.fd,),
            )  # fmt: skip
        child = Child(name, process, log_path)
        self.children.append(child)
        if announce is None:
            return child, None
        try:
            value = await asyncio.wait_for(_announced(child, announce), START_TIMEOUT_S)
        except TimeoutError:
            raise UpError(f"{name} printed no {announce!r} in {START_TIMEOUT_S:.0f} s") from None
        child.drain = asyncio.create_task(_drain(child))
        return child, value

    async def first_exit(self) -> Child:
        waits = {asyncio.ensure_future(c.process.wait()): c for c in self.children}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return waits[next(iter(done))]

    async def stop(self) -> None:
        """SIGTERM each child, newest first, and wait for it (killing it after a while)."""
        for child in reversed(self.children):
            if child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.terminate()
                try:
                    await asyncio.wait_for(child.process.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    _say(f"{child.name} did not stop in {STOP_TIMEOUT_S:.0f} s: killing it")
                    with contextlib.suppress(ProcessLookupError):
                        child.process.kill()
                    await child.process.wait()
            if child.drain is not None:
                await child.drain
        self.parent.close()


async def _announced(child: Child, prefix: str) -> str:
    assert child.process.stdout is not None
    with child.log_path.open("ab") as log:
        while line := await child.process.stdout.readline():
            log.write(line)
            log.flush()
            text = line.decode(errors="replace").strip()
            if text.startswith(prefix):
                return text[len(prefix) :].strip()
    await child.process.wait()
    raise UpError(
        f"{child.name} exited with code {child.process.returncode} before it started;"
        f" the end of {child.log_path}:\n{child.tail()}"
    )


async def _drain(child: Child) -> None:
    """Keep copying the child's stdout into its log, so the pipe never fills."""
    assert child.process.stdout is not None
    with child.log_path.open("ab") as log:
        while chunk := await child.process.stdout.read(64 * 1024):
            log.write(chunk)
            log.flush()


def _say(text: str) -> None:
    sys.stderr.write(f"infrax up: {text}\n")
    sys.stderr.flush()


def rotate_logs(logs: Path) -> None:
    """Keep the previous run's logs as `NAME.log.1`, the one before is dropped."""
    logs.mkdir(parents=True, exist_ok=True)
    for log in logs.glob("*.log"):
        log.replace(log.with_name(f"{log.name}.1"))


def _root_credentials(data_dir: Path, env: Mapping[str, str]) -> hawk.Credentials:
    if env.get("INFRAX_ROOT_ACCESS_TOKEN"):
        return hawk.Credentials("root", env["INFRAX_ROOT_ACCESS_TOKEN"])
    saved = json.loads((data_dir / "root-credentials.json").read_text())
    return hawk.Credentials(saved["clientId"], saved["accessToken"])


async def _own_client(auth: Auth, name: str, scopes: Sequence[str]) -> hawk.Credentials:
    """A fresh client `infrax-up/<name>` with exactly these scopes (made again at each start,
    so its scopes follow this code and its token is never reused)."""
    client_id = f"infrax-up/{name}"
    await auth.delete_client(client_id)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    request = CreateClientRequest(
        expires=format_ms(int(expires.timestamp() * 1000)),
        description=f"the {name} of `infrax up`",
        scopes=list(scopes),
    )
    made = await auth.create_client(client_id, request)
    return hawk.Credentials(client_id, made.access_token)


async def _start_all(sup: Supervisor, args: argparse.Namespace, engine: str) -> LocalSystem:
    data_dir = sup.data_dir
    _, root_url = await sup.start(
        "queue",
        ["queue", "--data-dir", str(data_dir), "--host", args.host, "--port", str(args.port)],
        None,
        "rootUrl:",
    )
    assert root_url is not None
    print(f"rootUrl: {root_url}", flush=True)
    root = _root_credentials(data_dir, os.environ)
    task_queue_id = f"local/{engine}"
    async with Auth(Options(root_url, root)) as auth:
        worker = await _own_client(auth, "worker", worker_scopes(task_queue_id))
        own = {name: await _own_client(auth, name, s) for name, s in CHILD_SCOPES.items()}
    await sup.start(
        "worker",
        ["worker", "--root-url", root_url, "--task-queue-id", task_queue_id, "--engine", engine,
         "--capacity", str(args.capacity), "--worker-group", WORKER_GROUP,
         "--worker-id", _worker_id(), "--work-dir", str(data_dir / "worker"),
         "--shutdown-grace", str(STOP_GRACE_S)],
        worker, None,
    )  # fmt: skip
    urls: dict[str, str | None] = {}
    for name, announce in (
        ("scheduler", "hooksRootUrl:"),
        ("provisioner", "workerManagerRootUrl:"),
    ):
        service_args = [name, "--root-url", root_url, "--data-dir", str(data_dir / name),
                        "--host", args.host, "--port", "0"]  # fmt: skip
        _, urls[name] = await sup.start(name, service_args, own[name], announce)
    return LocalSystem(
        root_url=root_url,
        credentials=root,
        task_queue_id=task_queue_id,
        engine=engine,
        hooks_root_url=urls["scheduler"],
        worker_manager_root_url=urls["provisioner"],
    )


def _announce(system: LocalSystem, local_file: Path, capacity: int, out: IO[str]) -> None:
    engine = "Docker engine" if system.engine == "docker" else "process engine"
    lines = [
        f"web: {system.root_url}/",
        f"credentials: {local_file} (the root client; `infrax` commands run from this directory,"
        " or with INFRAX_DATA_DIR set to the data directory, use it)",
        f"taskQueueId: {system.task_queue_id} (one worker, {engine}, capacity {capacity})",
        f"hooksRootUrl: {system.hooks_root_url}",
        f"workerManagerRootUrl: {system.worker_manager_root_url}",
        f"logs: {local_file.parent / 'logs'}",
        _first_task(system.engine),
        "Ctrl-C stops everything.",
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()


def _engine(choice: str) -> str:
    if choice != "auto":
        return choice
    if docker_reachable():
        return "docker"
    _say("no Docker daemon answers: the local worker uses the process engine")
    return "process"


async def _up(args: argparse.Namespace) -> int:
    data_dir = data_dir_of(args.data_dir).resolve()
    rotate_logs(data_dir / "logs")
    engine = await asyncio.to_thread(_engine, args.engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKCLUSTER_")}
    sup = Supervisor(data_dir, env)
    local_file: Path | None = None  # removed at the end only if this one wrote it
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    try:
        starting = asyncio.create_task(_start_all(sup, args, engine))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, UpError, ClientError):
                await starting
            return Exit.ok
        system = starting.result()
        local_file = write_local(data_dir, system)
        await asyncio.to_thread(_announce, system, local_file, args.capacity, sys.stdout)
        dead = asyncio.create_task(sup.first_exit())
        await asyncio.wait([dead, stopping], return_when=asyncio.FIRST_COMPLETED)
        if stopping.done():
            dead.cancel()
            return Exit.ok
        child = dead.result()
        _say(
            f"the {child.name} exited with code {child.process.returncode}; stopping the rest."
            f" The end of {child.log_path}:\n{child.tail()}"
        )
        return 1
    except (UpError, ClientError, OSError, ValueError, KeyError) as error:
        _say(str(error))
        return 1
    finally:
        if local_file is not None:
            remove_local(data_dir)
        await sup.stop()


@contextlib.contextmanager
def _only_one(data_dir: Path) -> Iterator[None]:
    """One `infrax up` per data directory: a second would share its database and remake
    its children's clients."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "up.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpError(f"another `infrax up` runs with {data_dir}") from None
        yield


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        with _only_one(data_dir_of(args.data_dir).resolve()):
            return asyncio.run(_up(args))
    except UpError as error:
        _say(str(error))
        return 1
    except ConfigurationError as error:
        _say(str(error))
        return Exit.usage
