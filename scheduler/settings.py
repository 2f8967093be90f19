"""The scheduler's settings: the only reader of argv and the environment for the scheduler."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clients import hawk

__all__ = ["Settings", "SettingsError", "parse_settings"]


class SettingsError(ValueError):
    """A missing or unusable setting; the message says which and how to give it."""


@dataclass(frozen=True)
class Settings:
    queue_root_url: str  # --root-url / TASKCLUSTER_ROOT_URL: the queue the hooks create tasks in
    data_dir: Path  # --data-dir / INFRAX_SCHEDULER_DATA_DIR: hooks, fires, cron claims
    credentials: hawk.Credentials = field(repr=False)  # the scheduler's own client
    host: str = "127.0.0.1"  # --host / INFRAX_SCHEDULER_HOST
    port: int = 8081  # --port / INFRAX_SCHEDULER_PORT; 0 picks a free port
    public_url: str | None = None  # --public-url: the hooks rootUrl when behind a proxy
    cron_poll_s: float = 10.0  # --cron-poll: longest wait between cron passes (seconds)
    tick_lease_s: float = 60.0  # --tick-lease: how long a claimed tick is held (seconds)
    max_body_bytes: int = 10 * 1024 * 1024

    @property
    def database_path(self) -> Path:
        return self.data_dir / "scheduler.sqlite3"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax scheduler", description="Run the scheduler: hooks, cron, webhooks."
    )
    parser.add_argument("--root-url", help="the queue's rootUrl [TASKCLUSTER_ROOT_URL]")
    parser.add_argument(
        "--data-dir", help="directory of the scheduler's database [INFRAX_SCHEDULER_DATA_DIR]"
    )
    parser.add_argument(
        "--credentials-file",
        help="JSON {clientId, accessToken} of the scheduler's client"
        " [else TASKCLUSTER_CLIENT_ID / TASKCLUSTER_ACCESS_TOKEN]",
    )
    parser.add_argument("--host", help="address to listen on [127.0.0.1]")
    parser.add_argument("--port", type=int, help="port; 0 picks a free one [8081]")
    parser.add_argument("--public-url", help="rootUrl of the hooks API as clients see it")
    parser.add_argument("--cron-poll", type=float, help="longest seconds between cron passes")
    parser.add_argument("--tick-lease", type=float, help="seconds a claimed cron tick is held")
    return parser


def _credentials(path: str | None, env: Mapping[str, str]) -> hawk.Credentials:
    if path:
        try:
            saved = json.loads(Path(path).read_text())
            return hawk.Credentials(saved["clientId"], saved["accessToken"])
        except (OSError, ValueError, KeyError) as error:
            raise SettingsError(f"cannot read credentials from {path}: {error}") from None
    client_id, token = env.get("TASKCLUSTER_CLIENT_ID"), env.get("TASKCLUSTER_ACCESS_TOKEN")
    if not client_id or not token:
        raise SettingsError(
            "the scheduler needs a client: give --credentials-file or set"
            " TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN"
        )
    return hawk.Credentials(client_id, token, env.get("TASKCLUSTER_CERTIFICATE") or None)


def parse_settings(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> Settings:
    """Flags first, then environment variables, then defaults."""
    args = _parser().parse_args(list(argv))
    root_url = args.root_url or env.get("TASKCLUSTER_ROOT_URL")
    if not root_url:
        raise SettingsError("give the queue's --root-url or set TASKCLUSTER_ROOT_URL")
    values: dict[str, object] = {}
    for name, variable, kind in (
        ("host", "INFRAX_SCHEDULER_HOST", str),
        ("port", "INFRAX_SCHEDULER_PORT", int),
        ("public_url", "INFRAX_SCHEDULER_PUBLIC_URL", str),
        ("cron_poll", "INFRAX_SCHEDULER_CRON_POLL", float),
        ("tick_lease", "INFRAX_SCHEDULER_TICK_LEASE", float),
    ):
        given = getattr(args, name)
        if given is None and env.get(variable):
            given = kind(env[variable])
        if given is not None:
            values[{"cron_poll": "cron_poll_s", "tick_lease": "tick_lease_s"}.get(name, name)] = (
                given
            )
    data_dir = args.data_dir or env.get("INFRAX_SCHEDULER_DATA_DIR") or "./infrax-scheduler"
    return Settings(
        queue_root_url=root_url.rstrip("/"),
        data_dir=Path(data_dir),
        credentials=_credentials(args.credentials_file, env),
        **values,  # type: ignore[arg-type]
    )
