"""Typed keys of the provisioner application's shared state."""

from __future__ import annotations

from aiohttp import web

from clients.serving import QueueVerifier

from .fleet import Fleet
from .loop import Provisioner
from .settings import Settings
from .store import PoolStore

__all__ = ["FLEET", "PROVISIONER", "SETTINGS", "STORE", "VERIFIER"]

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", PoolStore)
VERIFIER = web.AppKey("verifier", QueueVerifier)
FLEET = web.AppKey("fleet", Fleet)
PROVISIONER = web.AppKey("provisioner", Provisioner)
