"""The blob endpoint: PUT and GET of object bytes through signed URLs (protocol.md, "Blob
transfer"), and the one path every upload takes into the blob store. With a store that
presigns its own URLs (S3) those are handed out instead, and what was PUT to it is taken into
the object when the upload is finished (`collect_upload`).

These routes are not Taskcluster API endpoints (they play the part of S3's presigned URLs),
so they are not in the endpoint table: a signed URL is their authority, not Hawk.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterable, AsyncIterator

from aiohttp import web

from clients.protocol.errors import ApiError, ErrorCode, input_error, not_found

from ..artifacts.blobs import (
    BlobMissingError,
    BlobStoreFullError,
    BlobStoreUnavailableError,
    PresigningBlobStore,
)
from ..core.blob_urls import BLOB_ROUTE
from ..core.objects import (
    CONTENT_ENCODING_PATTERN,
    UPLOAD_WINDOW_MS,
    ObjectRow,
    StoredBlob,
    check_put,
)
from ..dispatch import error_response
from ..keys import BLOB_URLS, BLOBS, SETTINGS, STORE

__all__ = [
    "add_blob_routes",
    "collect_upload",
    "download_url",
    "presigning",
    "store_blob",
    "upload_url",
]

_ENCODING = re.compile(CONTENT_ENCODING_PATTERN[:-1] + r"\Z")


def _now_ms() -> int:
    return int(time.time() * 1000)


def root_url(request: web.Request) -> str:
    """The rootUrl as this client reached us, unless the settings fix it."""
    public = request.app[SETTINGS].public_url
    return public.rstrip("/") if public else f"{request.scheme}://{request.host}"


def presigning(app: web.Application) -> PresigningBlobStore | None:
    blobs = app[BLOBS]
    return blobs if isinstance(blobs, PresigningBlobStore) else None


async def upload_url(request: web.Request, obj: ObjectRow, now_ms: int) -> tuple[str, int]:
    """A signed PUT URL for the object's bytes, and when it expires: the blob store's own
    when it presigns (the key it writes to is noted loose until well after the URL expires,
    so bytes PUT and never finished are deleted), else the queue's blob endpoint's."""
    ttl_s = request.app[SETTINGS].upload_url_ttl_s
    expires = now_ms + int(ttl_s * 1000)
    upload_id = obj.upload_id or ""
    blobs = presigning(request.app)
    if blobs is None:
        url = request.app[BLOB_URLS].url(root_url(request), "PUT", obj.name, expires, upload_id)
        return url, expires
    key = blobs.upload_key(obj.name, upload_id)
    await request.app[STORE].begin_blob(key, expires + UPLOAD_WINDOW_MS)
    url = blobs.presigned_put(key, obj.content_type, obj.content_length, int(ttl_s))
    return url, expires


async def download_url(
    request: web.Request, name: str, now_ms: int, found: ObjectRow | None = None
) -> tuple[str, int]:
    """A signed GET URL for the object's bytes, and when it expires (the store's own when it
    presigns and the object is finished)."""
    ttl_s = request.app[SETTINGS].download_url_ttl_s
    expires = now_ms + int(ttl_s * 1000)
    blobs = presigning(request.app)
    if blobs is not None:
        if found is None:
            found = await request.app[STORE].get_object(name)
        if found is not None and found.finished and found.blob is not None:
            return blobs.presigned_get(found.blob.key, _blob_headers(found), int(ttl_s)), expires
    return request.app[BLOB_URLS].url(root_url(request), "GET", name, expires), expires


def _blob_headers(found: ObjectRow) -> dict[str, str]:
    headers = {"Content-Type": found.content_type, "Cache-Control": "private"}
    if found.blob is not None and found.blob.content_encoding is not None:
        headers["Content-Encoding"] = found.blob.content_encoding
    return headers


async def collect_upload(app: web.Application, name: str) -> bool:
    """With a presigning store, make what was PUT to the upload's key the object's bytes:
    the store copies it to a key of its own and reports its size and SHA-256, checked here
    as a PUT through the queue is. Whether the object now has bytes (taken in here, or by a
    concurrent request: several first reads of one s3 artifact all find it); 400 (and the
    bytes deleted, to be PUT again) when they are not the declared length; BlobStoreUnavailable
    (503) when the store fails, nothing changed then.

    The upload's bytes are deleted only once the copy is attached: a concurrent request
    either copies them too (its copy is then not needed) or finds the object already has
    its bytes."""
    blobs = presigning(app)
    if blobs is None:
        return False
    store = app[STORE]
    found = await store.get_object(name)
    if found is None or found.upload_id is None:
        return found is not None and found.blob is not None
    upload_key = blobs.upload_key(name, found.upload_id)
    key = blobs.new_key()
    await store.begin_blob(key, _now_ms() + UPLOAD_WINDOW_MS)
    try:
        sealed = await blobs.seal(upload_key, key)
    except BlobStoreUnavailableError:
        raise  # a copy made before the store failed stays noted loose: the sweeper deletes it
    except BaseException:
        await _discard(app, key)
        raise
    if sealed is None:  # nothing was PUT (yet), or a concurrent request took it in
        await store.forget_blobs([key])
        again = await store.get_object(name)
        return again is not None and again.blob is not None
    size, sha256, encoding = sealed
    declared, max_bytes = found.content_length, app[SETTINGS].max_artifact_bytes
    if (declared is not None and size != declared) or size > max_bytes:
        await _discard(app, key)
        await blobs.delete(upload_key)
        expected = f"{declared} were declared" if declared is not None else f"at most {max_bytes}"
        raise input_error(f"the body PUT for {name!r} has {size} bytes; {expected}: PUT it again")
    blob = StoredBlob(key, size, sha256, encoding)
    try:
        attached = await store.attach_blob(name, found.upload_id, blob, _now_ms())
    except ApiError:
        await _discard(app, key)
        raise
    if not attached:  # a concurrent request attached the same bytes first
        await _discard(app, key)
    # The key stays noted loose until well after its PUT URLs expire: if S3 fails now, the
    # sweeper deletes it then, and the object has its bytes all the same.
    with contextlib.suppress(BlobStoreUnavailableError):
        await blobs.delete(upload_key)
    return True


async def store_blob(
    app: web.Application,
    name: str,
    upload_id: str,
    chunks: AsyncIterable[bytes],
    content_encoding: str | None,
) -> StoredBlob:
    """Receive the bytes of an upload and make them the object's (protocol.md).

    The new blob is noted loose before a byte is written, so that whatever happens (an error,
    a cancelled request, a crash) it is either attached to its object or deleted.
    """
    store, blobs = app[STORE], app[BLOBS]
    key = blobs.new_key()
    await store.begin_blob(key, _now_ms() + UPLOAD_WINDOW_MS)
    try:
        size, sha256 = await blobs.receive(key, chunks)
    except BaseException as error:
        # The partial file is gone (or goes as soon as a write in flight ends, after a
        # cancellation); the row is forgotten, and if even that fails the sweeper does it.
        await store.forget_blobs([key])
        if isinstance(error, BlobStoreFullError):
            raise ApiError(
                ErrorCode.insufficient_storage, "the artifact store is full; try again later"
            ) from error
        raise
    blob = StoredBlob(key, size, sha256, content_encoding)
    try:
        attached = await store.attach_blob(name, upload_id, blob, _now_ms())
    except ApiError:
        await _discard(app, key)
        raise
    if not attached:  # the finished object already holds these very bytes
        await _discard(app, key)
    return blob


async def _discard(app: web.Application, key: str) -> None:
    await app[BLOBS].delete(key)
    await app[STORE].forget_blobs([key])


async def _bounded(
    request: web.Request, declared: int | None, max_bytes: int
) -> AsyncIterator[bytes]:
    """The body's chunks, refusing more than declared or allowed, and fewer than declared."""
    total = 0
    async for chunk, _ in request.content.iter_chunks():  # as received: no joined copies
        if not chunk:
            continue
        total += len(chunk)
        if declared is not None and total > declared:
            raise input_error(f"the body is longer than the {declared} bytes declared")
        if total > max_bytes:
            raise ApiError(
                ErrorCode.input_too_large, f"an object may have at most {max_bytes} bytes"
            )
        yield chunk
    if declared is not None and total != declared:
        raise input_error(f"the body has {total} bytes; {declared} were declared")


def _content_encoding(request: web.Request) -> str | None:
    value = request.headers.get("Content-Encoding", "").strip().lower()
    if value in ("", "identity"):
        return None
    if not _ENCODING.match(value):
        raise input_error(f"unsupported Content-Encoding {value!r}")
    return value


async def put_blob(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    settings = request.app[SETTINGS]
    try:
        signed = request.app[BLOB_URLS].verify("PUT", name, request.query, _now_ms())
        found = await request.app[STORE].get_object(name)
        content_type = request.headers.get("Content-Type", "")
        max_bytes = settings.max_artifact_bytes
        check_put(found, signed.upload_id, content_type, request.content_length, max_bytes)
        assert found is not None
        encoding = _content_encoding(request)
        chunks = _bounded(request, found.content_length, max_bytes)
        blob = await store_blob(request.app, name, signed.upload_id, chunks, encoding)
    except ApiError as error:
        return error_response(request, error, {"name": name}, "putBlob")
    return web.Response(status=200, headers={"ETag": f'"{blob.sha256}"'})


async def get_blob(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    now = _now_ms()
    try:
        request.app[BLOB_URLS].verify("GET", name, request.query, now)
        found = await request.app[STORE].get_object(name)
        if found is None or not found.finished or found.blob is None:
            raise not_found(f"object {name!r} not found")
        if found.expires_ms <= now:
            raise ApiError(ErrorCode.resource_expired, f"object {name!r} has expired")
        return await request.app[BLOBS].response(found.blob.key, _blob_headers(found))
    except BlobMissingError:
        failure = not_found(f"the bytes of object {name!r} are gone")
    except ApiError as error:
        failure = error
    return error_response(request, failure, {"name": name}, "getBlob")


def add_blob_routes(app: web.Application) -> None:
    route = BLOB_ROUTE + "{name:[\\s\\S]+}"
    app.router.add_route("PUT", route, put_blob, name="putBlob")
    app.router.add_get(route, get_blob, name="getBlob")
