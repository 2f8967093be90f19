"""The provisioner's aiohttp application: the Worker-Manager v1 API, the pools, the loop."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from clients.client import Auth, Options, Queue
from clients.serving import QueueVerifier

from . import handlers  # noqa: F401  (registers the handlers)
from .core.launching import BackOff
from .dispatch import bind, errors
from .fleet import Fleet
from .keys import FLEET, PROVISIONER, SETTINGS, STORE, VERIFIER
from .loop import Provisioner
from .poolfile import load_pools_file
from .providers.factory import make_providers
from .settings import Settings
from .store import PoolStore

__all__ = ["create_app"]


def _now_ms() -> int:
    return int(time.time() * 1000)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings

    async def services(app: web.Application) -> AsyncIterator[None]:
        store = await PoolStore.open(settings.database_path)
        queue = Queue(Options(settings.queue_root_url, settings.credentials))
        providers = make_providers(settings)
        fleet = Fleet(store, queue, providers, _now_ms)
        app[STORE], app[FLEET] = store, fleet
        app[VERIFIER] = QueueVerifier(queue.sibling(Auth))
        backoff = BackOff(int(settings.backoff_base_s * 1000), int(settings.backoff_max_s * 1000))
        app[PROVISIONER] = Provisioner(fleet, settings.interval_s, backoff, settings.stop_grace_s)
        try:
            if settings.pools_file is not None:
                await load_pools_file(settings.pools_file, store, providers)
            yield
        finally:
            await app[PROVISIONER].stop()
            for provider in providers.values():
                await provider.close()
            await queue.close()
            await store.close()

    app.cleanup_ctx.append(services)
    bind(app)
    return app
