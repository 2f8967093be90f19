"""Handlers of the Object service subset (protocol.md, "Objects")."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from dataclasses import replace

from clients.protocol import objects as o
from clients.protocol.errors import ApiError, ErrorCode, input_error, not_found
from clients.protocol.times import format_ms, parse_time

from ..core.objects import ObjectRow, choose_download, declared_hashes, download_hashes
from ..dispatch import Call, handles
from ..keys import SETTINGS, STORE
from .blobs import collect_upload, download_url, store_blob, upload_url

__all__: list[str] = []

OBJECT_NAME_MAX = 1100  # room for t/<taskId>/<runId>/ before a 1024-character artifact name


def _name(call: Call) -> str:
    name = call.params["name"]
    if len(name) > OBJECT_NAME_MAX:
        raise ApiError(
            ErrorCode.invalid_request_arguments,
            f"an object name has at most {OBJECT_NAME_MAX} characters",
        )
    return name


def _inline_data(proposal: o.DataInlineProposal) -> bytes:
    try:
        data = base64.b64decode(proposal.object_data, validate=True)
    except (binascii.Error, ValueError):
        raise input_error(
            "objectData is not valid base64", path="$.proposedUploadMethods.dataInline.objectData"
        ) from None
    if len(data) > o.DATA_INLINE_MAX_BYTES:
        raise input_error(f"dataInline is for at most {o.DATA_INLINE_MAX_BYTES} bytes")
    return data


def _proposed(call: Call, request: o.CreateUploadRequest) -> tuple[ObjectRow, bytes | None]:
    """The object the request describes, and its bytes when they came inline."""
    try:
        expires = parse_time(request.expires)
    except ValueError:
        raise input_error("`expires` is not a date-time", path="$.expires") from None
    row = ObjectRow(
        _name(call),
        request.project_id,
        request.upload_id,
        0,
        expires,
        hashes=declared_hashes(request.hashes),
    )
    methods = request.proposed_upload_methods
    if isinstance(methods.data_inline, o.DataInlineProposal):
        data = _inline_data(methods.data_inline)
        row = _with_content(row, methods.data_inline.content_type, len(data))
        return row, data
    if isinstance(methods.put_url, o.PutUrlProposal):
        max_bytes = call.app[SETTINGS].max_artifact_bytes
        if methods.put_url.content_length > max_bytes:
            raise ApiError(
                ErrorCode.input_too_large, f"an object may have at most {max_bytes} bytes"
            )
        return _with_content(
            row, methods.put_url.content_type, methods.put_url.content_length
        ), None
    return row, None


def _with_content(row: ObjectRow, content_type: str, length: int) -> ObjectRow:
    return replace(row, content_type=content_type, content_length=length)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


@handles("createUpload")
async def create_upload(call: Call) -> o.CreateUploadResponse:
    request: o.CreateUploadRequest = call.body
    proposed, inline = _proposed(call, request)
    call.authorize(projectId=request.project_id)
    methods = request.proposed_upload_methods
    negotiated = isinstance(methods.data_inline, o.DataInlineProposal) or isinstance(
        methods.put_url, o.PutUrlProposal
    )
    obj = await call.app[STORE].create_upload(proposed, negotiated, call.now_ms())
    method = o.UploadMethod()
    if inline is not None:
        await store_blob(call.app, obj.name, request.upload_id, _once(inline), None)
        method.data_inline = True
    elif isinstance(methods.put_url, o.PutUrlProposal):
        url, expires = await upload_url(call.request, obj, call.now_ms())
        headers = {"Content-Type": obj.content_type, "Content-Length": str(obj.content_length)}
        method.put_url = o.PutUrlMethod(url=url, expires=format_ms(expires), headers=headers)
    return o.CreateUploadResponse(
        project_id=obj.project_id,
        upload_id=request.upload_id,
        expires=format_ms(obj.expires_ms),
        upload_method=method,
    )


@handles("finishUpload")
async def finish_upload(call: Call) -> o.FinishUploadResponse:
    request: o.FinishUploadRequest = call.body
    call.authorize(projectId=request.project_id)
    await collect_upload(call.app, _name(call))
    await call.app[STORE].finish_upload(
        _name(call), request.project_id, request.upload_id, declared_hashes(request.hashes)
    )
    return o.FinishUploadResponse()


async def _finished(call: Call) -> ObjectRow:
    found = await call.app[STORE].get_object(_name(call))
    if found is None or not found.finished or found.blob is None:
        raise not_found(f"object {call.params['name']!r} not found")
    if found.expires_ms <= call.now_ms():
        raise ApiError(ErrorCode.resource_expired, f"object {found.name!r} has expired")
    return found


@handles("startDownload")
async def start_download(call: Call) -> o.StartDownloadResponse:
    request: o.StartDownloadRequest = call.body
    call.authorize()
    found = await _finished(call)
    method = choose_download(request.accept_download_methods)
    url, expires = await download_url(call.request, found.name, call.now_ms(), found)
    if method == "simple":
        return o.SimpleDownload(url=url)
    return o.GetUrlDownload(url=url, expires=format_ms(expires), hashes=download_hashes(found))


@handles("object")
async def object_metadata(call: Call) -> o.ObjectMetadata:
    call.authorize()
    found = await _finished(call)
    return o.ObjectMetadata(
        project_id=found.project_id,
        expires=format_ms(found.expires_ms),
        hashes=download_hashes(found),
    )
