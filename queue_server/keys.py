"""Typed keys of the application's shared state."""

from __future__ import annotations

from aiohttp import web

from .artifacts.blobs import BlobStore
from .bus import Bus
from .core.blob_urls import BlobUrlSigner
from .core.relay_peers import PeerSigner
from .pulse import OutboxPublisher
from .relays import RelayRouter
from .secrets import ServerSecrets
from .settings import Settings
from .store.base import Store
from .streams import Hub

__all__ = [
    "BLOBS",
    "BLOB_URLS",
    "BUS",
    "HUB",
    "PEER_SIGNER",
    "PUBLISHER",
    "RELAYS",
    "SECRETS",
    "SETTINGS",
    "STORE",
]

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
BUS = web.AppKey("bus", Bus)
SECRETS = web.AppKey("secrets", ServerSecrets)
BLOBS = web.AppKey("blobs", BlobStore)
BLOB_URLS = web.AppKey("blob_urls", BlobUrlSigner)
HUB = web.AppKey("hub", Hub)
PUBLISHER = web.AppKey("amqp_publisher", OutboxPublisher)
RELAYS = web.AppKey("relays", RelayRouter)
PEER_SIGNER = web.AppKey("relay_peer_signer", PeerSigner)
