"""The provisioner's settings: the only reader of argv and the environment for the provisioner.

Flags win over `INFRAX_PROVISIONER_*` variables, which win over the defaults. The
provisioner's own client (`--credentials-file`, else `TASKCLUSTER_CLIENT_ID` /
`TASKCLUSTER_ACCESS_TOKEN`) must be a permanent client: it signs the temporary credentials of
every registered worker (protocol.md, "Worker registration", which lists the scopes it needs).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clients import hawk
from clients.client import ConfigurationError, credentials_from_env, credentials_from_file
from clients.protocol.pool_config import CONFIG_TYPES

__all__ = ["DEFAULT_PROVIDERS", "Settings", "SettingsError", "parse_settings"]

# provider id -> provider type: the three `infrax up` offers.
DEFAULT_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("static", "static"),
    ("process", "process"),
    ("docker", "docker"),
)


class SettingsError(ValueError):
    """A missing or unusable setting; the message says which and how to give it."""


@dataclass(frozen=True)
class Settings:
    queue_root_url: str  # --root-url / TASKCLUSTER_ROOT_URL: the queue the pools serve
    data_dir: Path  # --data-dir / INFRAX_PROVISIONER_DATA_DIR: pools, workers, worker logs
    credentials: hawk.Credentials = field(repr=False)  # the provisioner's own client
    host: str = "127.0.0.1"  # --host / INFRAX_PROVISIONER_HOST
    port: int = 8082  # --port / INFRAX_PROVISIONER_PORT; 0 picks a free port
    public_url: str | None = None  # --public-url: the worker-manager rootUrl behind a proxy
    pools_file: Path | None = None  # --pools-file: pools created or updated at start
    providers: tuple[tuple[str, str], ...] = DEFAULT_PROVIDERS  # --provider ID=TYPE
    interval_s: float = 5.0  # --interval: seconds between passes over the pools
    backoff_base_s: float = 5.0  # --backoff-base: pause after a launch config's first failure
    backoff_max_s: float = 600.0  # --backoff-max: the longest pause between failed starts
    stop_grace_s: float = 10.0  # --stop-grace: seconds a removed worker gets before a kill
    docker_image: str | None = None  # --docker-image: worker image (default: built locally)
    max_body_bytes: int = 1024 * 1024

    @property
    def database_path(self) -> Path:
        return self.data_dir / "provisioner.sqlite3"

    @property
    def workers_dir(self) -> Path:
        return self.data_dir / "workers"


_FLAGS: tuple[tuple[str, str, type], ...] = (
    ("host", "INFRAX_PROVISIONER_HOST", str),
    ("port", "INFRAX_PROVISIONER_PORT", int),
    ("public_url", "INFRAX_PROVISIONER_PUBLIC_URL", str),
    ("pools_file", "INFRAX_PROVISIONER_POOLS_FILE", Path),
    ("interval_s", "INFRAX_PROVISIONER_INTERVAL", float),
    ("backoff_base_s", "INFRAX_PROVISIONER_BACKOFF_BASE", float),
    ("backoff_max_s", "INFRAX_PROVISIONER_BACKOFF_MAX", float),
    ("stop_grace_s", "INFRAX_PROVISIONER_STOP_GRACE", float),
    ("docker_image", "INFRAX_PROVISIONER_DOCKER_IMAGE", str),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax provisioner",
        description="Run the provisioner: worker pools that grow with pending work.",
    )
    parser.add_argument("--root-url", help="the queue's rootUrl [TASKCLUSTER_ROOT_URL]")
    parser.add_argument(
        "--data-dir", help="directory of the provisioner's data [INFRAX_PROVISIONER_DATA_DIR]"
    )
    parser.add_argument(
        "--credentials-file",
        help="JSON {clientId, accessToken} of the provisioner's client"
        " [else TASKCLUSTER_CLIENT_ID / TASKCLUSTER_ACCESS_TOKEN]",
    )
    parser.add_argument(
        "--provider",
        action="append",
        metavar="ID=TYPE",
        help="a provider (types: static, process, docker); repeat; replaces the default"
        " static=static process=process docker=docker",
    )
    for name, variable, _ in _FLAGS:
        flag = "--" + name.removesuffix("_s").replace("_", "-")
        parser.add_argument(flag, dest=name, help=f"[{variable}]")
    return parser


def _providers(given: list[str] | None) -> tuple[tuple[str, str], ...]:
    if not given:
        return DEFAULT_PROVIDERS
    providers = []
    for item in given:
        provider_id, sep, provider_type = item.partition("=")
        if not sep or provider_type not in CONFIG_TYPES or not provider_id:
            raise SettingsError(
                f"--provider {item!r}: give ID=TYPE with TYPE one of {', '.join(CONFIG_TYPES)}"
            )
        providers.append((provider_id, provider_type))
    if len({p for p, _ in providers}) != len(providers):
        raise SettingsError("two providers have the same id")
    return tuple(providers)


def _credentials(path: str | None, env: Mapping[str, str]) -> hawk.Credentials:
    try:
        found = credentials_from_file(Path(path)) if path else credentials_from_env(env)
    except ConfigurationError as error:
        raise SettingsError(str(error)) from None
    if found is None:
        raise SettingsError(
            "the provisioner needs a client: give --credentials-file or set"
            " TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN"
        )
    if found.certificate:
        raise SettingsError("the provisioner's client must be permanent, not temporary")
    return found


def parse_settings(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> Settings:
    """Flags first, then environment variables, then defaults."""
    args = _parser().parse_args(list(argv))
    root_url = args.root_url or env.get("TASKCLUSTER_ROOT_URL")
    if not root_url:
        raise SettingsError("give the queue's --root-url or set TASKCLUSTER_ROOT_URL")
    values: dict[str, object] = {}
    for name, variable, kind in _FLAGS:
        given = getattr(args, name)
        if given is None:
            given = env.get(variable) or None
        if given is not None:
            try:
                values[name] = kind(given)
            except ValueError:
                raise SettingsError(f"{name}: {given!r} is not a {kind.__name__}") from None
    data_dir = args.data_dir or env.get("INFRAX_PROVISIONER_DATA_DIR") or "./infrax-provisioner"
    return Settings(
        queue_root_url=root_url.rstrip("/"),
        data_dir=Path(data_dir),
        credentials=_credentials(args.credentials_file, env),
        providers=_providers(args.provider),
        **values,  # type: ignore[arg-type]
    )
