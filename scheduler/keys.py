"""Typed keys of the scheduler application's shared state."""

from __future__ import annotations

from aiohttp import web

from clients.client import Queue
from clients.serving import QueueVerifier

from .bindings import Bindings
from .cron import Cron
from .firing import Firer
from .settings import Settings
from .store import HookStore

__all__ = ["BINDINGS", "CRON", "FIRER", "QUEUE", "SETTINGS", "STORE", "VERIFIER"]

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", HookStore)
VERIFIER = web.AppKey("verifier", QueueVerifier)
QUEUE = web.AppKey("queue", Queue)
FIRER = web.AppKey("firer", Firer)
CRON = web.AppKey("cron", Cron)
BINDINGS = web.AppKey("bindings", Bindings)
