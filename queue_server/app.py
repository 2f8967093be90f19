"""The queue's aiohttp application: shared state, middlewares, routes, background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from clients.protocol.errors import ApiError, ErrorCode
from clients.protocol.stream import CLOSE_GOING_AWAY

from . import handlers  # noqa: F401  (registers the handlers)
from .artifacts import (
    BlobStore,
    BlobStoreConfigError,
    BlobStoreUnavailableError,
    LocalBlobStore,
)
from .auth import Authenticator
from .bus import Bus
from .core.blob_urls import BlobUrlSigner
from .core.relay_peers import PeerSigner
from .dispatch import AUTHENTICATOR, bind, error_response
from .handlers.blobs import add_blob_routes
from .handlers.relay_peers import add_relay_peer_routes
from .keys import (
    BLOB_URLS,
    BLOBS,
    BUS,
    HUB,
    PEER_SIGNER,
    PUBLISHER,
    RELAYS,
    SECRETS,
    SETTINGS,
    STORE,
)
from .pages import add_page_routes
from .pulse import OutboxPublisher
from .relays import LocalRelays
from .replica_relays import ReplicaRelays
from .resolvers import resolvers
from .roles import load_roles
from .secrets import load_secrets
from .settings import Settings
from .store.base import Store
from .store.sqlite import SQLiteStore
from .streams import Hub

__all__ = ["create_app"]

log = logging.getLogger("infrax.queue")


@web.middleware
async def errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Everything outside the endpoint handlers answers with Taskcluster's error body too."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        error = ApiError(ErrorCode.input_too_large, "the request body is too large")
    except web.HTTPMethodNotAllowed:
        error = ApiError(ErrorCode.method_not_allowed, f"{request.method} is not allowed here")
    except web.HTTPNotFound:
        error = ApiError(ErrorCode.resource_not_found, f"no endpoint at {request.path}")
    except web.HTTPException:
        raise
    except BlobStoreUnavailableError as unavailable:  # S3 down: a 503 the client retries
        log.warning(
            "blob store unavailable",
            extra={"event": "blob_store_unavailable", "error": str(unavailable)},
        )
        error = ApiError(ErrorCode.blob_store_unavailable, str(unavailable))
    except Exception:
        incident = str(uuid.uuid4())
        log.exception("internal error", extra={"event": "internal_error", "incident_id": incident})
        error = ApiError(ErrorCode.internal_server_error, f"internal error; incidentId: {incident}")
    route = request.match_info.route
    name = (route.name or "") if route is not None else ""
    return error_response(request, error, dict(request.match_info), name)


async def open_store(settings: Settings, bus: Bus) -> Store:
    """PostgreSQL when a database URL is given, else SQLite in the data directory; with an
    AMQP URL, every transaction also fills the outbox."""
    outbox = settings.amqp_url is not None
    if settings.database_url is None:
        return await SQLiteStore.open(settings.database_path, bus, outbox=outbox)
    from .store.postgres import PostgresStore  # asyncpg is the optional extra `postgres`

    return await PostgresStore.open(
        settings.database_url, bus, settings.database_pool_size, outbox=outbox
    )


async def open_blobs(settings: Settings) -> BlobStore:
    """The S3 store when --blob-store is given, else the local-disk store; a configuration
    it cannot work with is BlobStoreConfigError, before the queue serves anything."""
    if settings.blob_store is None:
        return LocalBlobStore(settings.blob_path)
    try:
        from .artifacts.s3 import (  # boto3: the extra `s3`
            MAX_URL_TTL_S,
            S3_MAX_OBJECT_BYTES,
            S3BlobStore,
        )
    except ImportError as error:
        raise BlobStoreConfigError(
            f"--blob-store s3://... needs boto3 (pip install 'infrax[s3]'): {error}"
        ) from None
    if settings.max_artifact_bytes > S3_MAX_OBJECT_BYTES:
        raise BlobStoreConfigError(
            "S3 takes at most 5 GiB in one PUT: --max-artifact-bytes must not be larger"
        )
    if max(settings.upload_url_ttl_s, settings.download_url_ttl_s) > MAX_URL_TTL_S:
        raise BlobStoreConfigError(
            "S3 presigned URLs work for at most 7 days: --upload-url-ttl and --download-url-ttl"
            " must not be longer"
        )
    return await S3BlobStore.open(settings.blob_store)


async def amqp_publisher(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: drain the AMQP outbox while the app runs (only with --amqp-url)."""
    settings = app[SETTINGS]
    assert settings.amqp_url is not None
    publisher = OutboxPublisher(
        app[STORE],
        app[BUS],
        settings.amqp_url,
        settings.amqp_exchange_prefix,
        settings.amqp_max_backoff_s,
    )
    app[PUBLISHER] = publisher
    loop = asyncio.create_task(publisher.run())
    yield
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop


async def relay_router(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: on PostgreSQL, where other replicas may share the database, the relay
    router across replicas (replica_relays.py) instead of this process's own."""
    if app[SETTINGS].database_url is None:
        yield
        return
    async with ReplicaRelays(app[STORE], app[PEER_SIGNER]) as router:
        app[RELAYS] = router
        yield


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[BUS] = Bus()
    app[SECRETS] = load_secrets(settings.data_dir, settings.root_access_token, settings.secret_key)
    roles = load_roles(settings.roles_file)
    app[HUB] = Hub(settings.events_buffer)
    app[BUS].subscribe(app[HUB].publish)

    app[RELAYS] = LocalRelays()  # replaced by relay_router on PostgreSQL
    app[PEER_SIGNER] = PeerSigner(app[SECRETS].secret_key)

    async def close_streams(app: web.Application) -> None:
        app[HUB].close_all(CLOSE_GOING_AWAY, "the server is shutting down")
        app[RELAYS].close_all(CLOSE_GOING_AWAY, "the server is shutting down")

    app.on_shutdown.append(close_streams)

    app[BLOB_URLS] = BlobUrlSigner(app[SECRETS].secret_key)

    async def storage(app: web.Application) -> AsyncIterator[None]:
        app[BLOBS] = await open_blobs(settings)
        store = await open_store(settings, app[BUS])
        app[STORE] = store
        app[AUTHENTICATOR] = Authenticator(store, app[SECRETS], settings.anonymous_scopes, roles)
        yield
        await app[BLOBS].close()
        await store.close()

    app.cleanup_ctx.append(storage)
    app.cleanup_ctx.append(relay_router)
    app.cleanup_ctx.append(resolvers)
    if settings.amqp_url is not None:
        app.cleanup_ctx.append(amqp_publisher)
    bind(app)
    add_blob_routes(app)
    add_relay_peer_routes(app)
    add_page_routes(app)
    return app
