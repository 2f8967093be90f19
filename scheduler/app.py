"""The scheduler's aiohttp application: the Hooks v1 API, the cron loop, the queue clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from clients.client import Auth, Options, Queue
from clients.serving import QueueVerifier

from . import handlers  # noqa: F401  (registers the handlers)
from .bindings import Bindings
from .cron import Cron
from .dispatch import bind, errors
from .firing import Firer
from .keys import BINDINGS, CRON, FIRER, QUEUE, SETTINGS, STORE, VERIFIER
from .settings import Settings
from .store import HookStore

__all__ = ["create_app"]


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings

    async def services(app: web.Application) -> AsyncIterator[None]:
        store = await HookStore.open(settings.database_path)
        queue = Queue(Options(settings.queue_root_url, settings.credentials))
        app[STORE] = store
        app[QUEUE] = queue
        app[VERIFIER] = QueueVerifier(queue.sibling(Auth))
        app[FIRER] = Firer(store, queue)
        app[CRON] = Cron(
            store, app[FIRER], poll_s=settings.cron_poll_s, lease_s=settings.tick_lease_s
        )
        app[BINDINGS] = Bindings(store, app[FIRER], queue, settings.cron_poll_s)
        loops = [
            asyncio.create_task(app[CRON].run(), name="cron"),
            asyncio.create_task(app[BINDINGS].run(), name="bindings"),
        ]
        yield
        for loop in loops:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        await queue.close()
        await store.close()

    app.cleanup_ctx.append(services)
    bind(app)
    return app
