"""The worker's settings: the only reader of argv, the environment and the config file.

Every setting is a flag (`--capacity`), an `INFRAX_WORKER_*` variable (`INFRAX_WORKER_CAPACITY`)
and a key of the optional TOML config file (`capacity = 4`, given with `--config` or
`INFRAX_WORKER_CONFIG`); flags win over variables, variables over the file, the file over the
defaults. Credentials also come from the official `TASKCLUSTER_ROOT_URL`,
`TASKCLUSTER_CLIENT_ID`, `TASKCLUSTER_ACCESS_TOKEN` and `TASKCLUSTER_CERTIFICATE`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import socket
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clients.hawk import Credentials
from clients.protocol.ids import split_task_queue_id

__all__ = ["Settings", "SettingsError", "parse_settings", "with_worker_config"]

_ID = re.compile(r"^[a-zA-Z0-9_-]{1,38}\Z")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


def _s(help_text: str, env: str | None = None, flag: bool = True) -> dict[str, Any]:
    return {"help": help_text, "env": env, "flag": flag}


def _default_worker_id() -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "-", socket.gethostname())[:38] or "worker"


@dataclass(frozen=True)
class Settings:
    root_url: str = field(metadata=_s("the queue's rootUrl", "TASKCLUSTER_ROOT_URL"))
    task_queue_id: str = field(metadata=_s("the task queue to claim from (PROV/TYPE)"))
    client_id: str | None = field(
        default=None, metadata=_s("the worker's clientId", "TASKCLUSTER_CLIENT_ID")
    )
    access_token: str | None = field(
        default=None, repr=False, metadata=_s("its accessToken", "TASKCLUSTER_ACCESS_TOKEN")
    )
    certificate: str | None = field(
        default=None, repr=False, metadata=_s("its certificate", "TASKCLUSTER_CERTIFICATE")
    )
    engine: Literal["docker", "process"] = field(
        default="docker", metadata=_s("how tasks run: docker or process")
    )
    capacity: int = field(default=1, metadata=_s("tasks run at once"))
    worker_group: str = field(default="local", metadata=_s("the worker's group"))
    worker_id: str = field(default_factory=_default_worker_id, metadata=_s("the worker's id"))
    work_dir: Path = field(
        default=Path("./infrax-worker"), metadata=_s("task directories and task logs")
    )
    idle_timeout_s: float = field(
        default=0.0, metadata=_s("exit after this many seconds without work; 0: never")
    )
    shutdown_grace_s: float = field(
        default=30.0, metadata=_s("seconds running tasks get to finish on SIGTERM/SIGINT")
    )
    shutdown_report_s: float = field(
        default=30.0,
        metadata=_s(
            "on SIGTERM/SIGINT, seconds the stopped tasks' last uploads and reports may take"
            " when the queue does not answer; then they are given up (exit code 1)"
        ),
    )
    max_task_run_time_s: int = field(
        default=86_400, metadata=_s("the largest maxRunTime a payload may ask, in seconds")
    )
    empty_poll_pause_s: float = field(
        default=1.0, metadata=_s("pause after a claimWork answered with no task, in seconds")
    )
    quarantine_check_s: float = field(
        default=60.0, metadata=_s("seconds between checks whether the worker is quarantined")
    )
    cancel_events: bool = field(
        default=True, metadata=_s("follow the queue's event stream to notice cancels at once")
    )
    cancel_check_s: float = field(
        default=2.0,
        metadata=_s("seconds between status checks of held runs while no event stream is up"),
    )
    memory_limit_mb: int = field(
        default=0, metadata=_s("memory limit per container in MiB; 0: host memory / capacity")
    )
    cpu_limit: float = field(
        default=0.0, metadata=_s("CPUs per container; 0: host cores / capacity")
    )
    allow_privileged: bool = field(
        default=False, metadata=_s("let tasks holding the scope run privileged containers")
    )
    run_as_user: str = field(
        default="nobody",
        metadata=_s("process engine: the user tasks run as when the worker runs as root"),
    )
    cache_prefix: str = field(
        default="infrax-cache", metadata=_s("prefix of the Docker volumes holding caches")
    )
    sample_interval_s: float = field(
        default=1.0, metadata=_s("seconds between resource samples of a task")
    )
    live_listen: str = field(
        default="",
        metadata=_s(
            "HOST:PORT to serve live logs and shells on directly (port 0 picks one);"
            " empty: viewers reach this worker through the queue's relay only"
        ),
    )
    live_url: str = field(
        default="",
        metadata=_s("the URL viewers reach --live-listen at; empty: http://HOST:PORT listened on"),
    )
    relay: bool = field(
        default=True,
        metadata=_s("keep a relay connection to the queue, so viewers need no inbound port"),
    )
    max_shell_sessions: int = field(
        default=10, metadata=_s("shell sessions one run may have open at once")
    )
    max_keep_alive_s: int = field(
        default=3600,
        metadata=_s("the longest features.keepAliveOnFailure a payload may ask, in seconds"),
    )
    hold_binary: Path = field(
        default=Path("/bin/busybox"),
        metadata=_s(
            "a static busybox mounted into interactive containers to keep them alive and"
            " start shells"
        ),
    )
    config: Path | None = field(
        default=None, metadata=_s("a TOML file with any of these settings", flag=True)
    )
    # Registration with a provisioner (protocol.md, "Worker registration"): with a secret, the
    # worker gets its credentials and workerConfig from registerWorker instead of the above.
    provisioner_url: str | None = field(
        default=None, metadata=_s("the rootUrl of the worker-manager API to register with")
    )
    provider_id: str = field(default="static", metadata=_s("the provider the worker is of"))
    registration_secret: str | None = field(
        default=None,
        repr=False,
        metadata=_s("the secret it registers with (static, or one-time from its provider)"),
    )
    terminate_check_s: float = field(
        default=30.0, metadata=_s("seconds between shouldWorkerTerminate checks")
    )

    @property
    def credentials(self) -> Credentials | None:
        if not self.client_id or not self.access_token:
            return None
        return Credentials(self.client_id, self.access_token, self.certificate)

    def __post_init__(self) -> None:
        if split_task_queue_id(self.task_queue_id) is None:
            raise SettingsError(f"task queue id {self.task_queue_id!r} is not PROV/TYPE")
        for name in ("worker_group", "worker_id"):
            if not _ID.match(getattr(self, name)):
                raise SettingsError(f"{name} must be 1-38 of [a-zA-Z0-9_-]")
        if self.engine not in ("docker", "process"):
            raise SettingsError(f"engine must be docker or process, not {self.engine!r}")
        if self.capacity < 1:
            raise SettingsError("capacity must be at least 1")
        if self.live_listen and _address(self.live_listen) is None:
            raise SettingsError(f"live_listen must be HOST:PORT, not {self.live_listen!r}")
        if self.max_shell_sessions < 1:
            raise SettingsError("max_shell_sessions must be at least 1")
        if not self.root_url.startswith(("http://", "https://")):
            raise SettingsError("root_url must be an http(s) URL")
        if bool(self.registration_secret) != bool(self.provisioner_url):
            raise SettingsError("registration needs both provisioner_url and registration_secret")

    @property
    def live_address(self) -> tuple[str, int] | None:
        """Where to listen for viewers directly, or None."""
        return _address(self.live_listen) if self.live_listen else None


def _address(text: str) -> tuple[str, int] | None:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return None
    return host.strip("[]"), int(port)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = typing.get_type_hints(Settings)


def _flag(name: str) -> str:
    return "--" + name.removesuffix("_s").replace("_", "-")


def _variable(name: str) -> str:
    return "INFRAX_WORKER_" + name.removesuffix("_s").upper()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infrax worker", description="Run a worker.")
    for name, spec in _FIELDS.items():
        extra = f", {spec.metadata['env']}" if spec.metadata["env"] else ""
        parser.add_argument(
            _flag(name), dest=name, help=f"{spec.metadata['help']} [{_variable(name)}{extra}]"
        )
    return parser


def _convert(name: str, raw: object) -> object:
    kind = _TYPES[name]
    if kind is bool and isinstance(raw, str):
        if raw.lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise SettingsError(f"{name} must be true or false, not {raw!r}")
        return raw.lower() in ("1", "true", "yes")
    try:
        if kind in (int, float):
            return kind(raw)
        if kind in (Path, Path | None):
            return Path(str(raw))
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a number") from None
    return raw if isinstance(raw, str | bool | int | float) else str(raw)


def _from_file(path: Path) -> dict[str, object]:
    try:
        loaded = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"config file {path}: {error}") from None
    values: dict[str, object] = {}
    for key, value in loaded.items():
        name = _setting_name(key)
        if name is None:
            raise SettingsError(f"config file {path}: unknown setting {key!r}")
        values[name] = value
    return values


def _setting_name(key: str) -> str | None:
    """The field a file or workerConfig key names: `idle-timeout`, `idle_timeout`, `idleTimeout`."""
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower().replace("-", "_")
    name = name if name in _FIELDS else f"{name}_s"
    return name if name in _FIELDS else None


# What a pool's workerConfig may not change: who the worker is and how it authenticates.
_IDENTITY = frozenset(
    {"root_url", "task_queue_id", "client_id", "access_token", "certificate", "worker_group"}
    | {"worker_id", "config", "provisioner_url", "provider_id", "registration_secret"}
)


def with_worker_config(
    settings: Settings, worker_config: Mapping[str, object]
) -> tuple[Settings, list[str]]:
    """The settings with a pool's workerConfig applied over them, and the keys it ignored."""
    values: dict[str, object] = {}
    ignored = []
    for key, raw in worker_config.items():
        name = _setting_name(key)
        if name is None or name in _IDENTITY:
            ignored.append(key)
            continue
        values[name] = _convert(name, raw)
    return dataclasses.replace(settings, **values), ignored  # type: ignore[arg-type]


def parse_settings(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> Settings:
    """Flags, then INFRAX_WORKER_* (and TASKCLUSTER_*) variables, then the file, then defaults."""
    args = vars(_parser().parse_args(list(argv)))
    from_env: dict[str, object] = {}
    for name, spec in _FIELDS.items():
        for variable in (spec.metadata["env"], _variable(name)):
            if variable and env.get(variable):
                from_env[name] = env[variable]
    config = args["config"] or from_env.get("config")
    values = _from_file(Path(str(config))) if config else {}
    values.update(from_env)
    values.update({k: v for k, v in args.items() if v is not None})
    missing = [_flag(name) for name in ("root_url", "task_queue_id") if name not in values]
    if missing:
        raise SettingsError(f"missing {' and '.join(missing)}")
    return Settings(**{name: _convert(name, raw) for name, raw in values.items()})  # type: ignore[arg-type]
