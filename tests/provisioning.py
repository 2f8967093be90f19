"""Running a provisioner in tests: in the test's event loop, against the test's queue."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from clients import hawk
from clients.client import Auth, Options, Queue, WorkerManager
from clients.protocol.times import format_ms
from clients.protocol.worker_manager import PROVISIONER_CLIENT_SCOPES
from provisioner.keys import PROVISIONER, STORE
from provisioner.loop import Provisioner
from provisioner.main import serve
from provisioner.settings import Settings
from provisioner.store import PoolStore
from tests.conftest import ROOT_TOKEN, RunningQueue

__all__ = [
    "ROOT",
    "RunningProvisioner",
    "provisioner_client",
    "running_provisioner",
    "static_secret",
]

ROOT = hawk.Credentials("root", ROOT_TOKEN)


def static_secret() -> str:
    """44 URL-safe characters, the shape of a staticSecret."""
    return (uuid.uuid4().hex + uuid.uuid4().hex)[:44]


async def provisioner_client(queue: RunningQueue) -> hawk.Credentials:
    """A permanent client holding exactly PROVISIONER_CLIENT_SCOPES (never root's `*`)."""
    client_id = f"infrax/provisioner-{uuid.uuid4().hex[:8]}"
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    async with Auth(Options(queue.root_url, ROOT)) as auth:
        made = await auth.create_client(
            client_id,
            {
                "expires": format_ms(int(expires.timestamp() * 1000)),
                "scopes": list(PROVISIONER_CLIENT_SCOPES),
            },
        )
    return hawk.Credentials(made.client_id, made.access_token)


@dataclass
class RunningProvisioner:
    root_url: str
    settings: Settings
    runner: web.AppRunner

    @property
    def store(self) -> PoolStore:
        return self.runner.app[STORE]

    @property
    def loop(self) -> Provisioner:
        return self.runner.app[PROVISIONER]

    def manager(self, credentials: hawk.Credentials | None = ROOT) -> WorkerManager:
        return WorkerManager(Options(self.root_url, credentials))

    def queue(self, credentials: hawk.Credentials | None = ROOT) -> Queue:
        return Queue(Options(self.settings.queue_root_url, credentials))


@asynccontextmanager
async def running_provisioner(
    queue: RunningQueue, data_dir: Path, *, loop: bool = False, **overrides: Any
) -> AsyncIterator[RunningProvisioner]:
    """A provisioner serving on 127.0.0.1 (port 0); stopped on exit. Its loop runs only when
    the test calls `run_once()`, unless `loop` is True."""
    values: dict[str, Any] = {
        "queue_root_url": queue.root_url,
        "data_dir": data_dir,
        "credentials": await provisioner_client(queue),
        "host": "127.0.0.1",
        "port": 0,
        "interval_s": 0.5,
    }
    values.update(overrides)
    settings = Settings(**values)
    runner, root_url = await serve(settings, loop=loop)
    try:
        yield RunningProvisioner(root_url, settings, runner)
    finally:
        await runner.cleanup()
