"""Typed keys of the application's shared state."""

from __future__ import annotations

from aiohttp import web

from .bus import Bus
from .secrets import ServerSecrets
from .settings import Settings
from .store.base import Store
from .streams import Hub

__all__ = ["BUS", "HUB", "SECRETS", "SETTINGS", "STORE"]

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
BUS = web.AppKey("bus", Bus)
SECRETS = web.AppKey("secrets", ServerSecrets)
HUB = web.AppKey("hub", Hub)
