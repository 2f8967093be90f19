"""Health endpoints (clients/serving/health.py): the database must answer."""

from __future__ import annotations

from aiohttp import web

from clients.serving.health import serve_health

from ..dispatch import TABLE
from ..keys import STORE

__all__: list[str] = []


async def _healthy(app: web.Application) -> bool:
    return await app[STORE].healthy()


serve_health(TABLE, _healthy)
