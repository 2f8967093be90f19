"""Handlers of the artifact endpoints (protocol.md, "Artifacts")."""

from __future__ import annotations

import contextlib

import msgspec
from aiohttp import web

from clients.protocol import artifacts as a
from clients.protocol.errors import ApiError, ErrorCode, input_error, not_found
from clients.protocol.ids import new_slugid
from clients.protocol.times import format_ms

from ..artifacts.blobs import BlobStoreUnavailableError
from ..core import artifacts as rules
from ..core.artifacts import ArtifactRow, CreatedArtifact
from ..core.pages import page_from_query
from ..dispatch import Call, handles
from ..keys import SETTINGS, STORE
from .blobs import collect_upload, download_url, presigning, upload_url
from .claims import queue_credentials

__all__: list[str] = []

UPLOAD_CREDENTIALS_MS = 86_400_000  # at most; never past the artifact's expiry
DOWNLOAD_CREDENTIALS_MS = 3_600_000
WAITING_LOOKUPS = 100  # s3 artifacts a listing looks for in a presigning store, at most
STORAGE_TYPE_HEADER = "x-taskcluster-artifact-storage-type"
_encode = msgspec.json.Encoder().encode


def _run_id(call: Call) -> int:
    return int(call.params["runId"])


@handles("createArtifact")
async def create_artifact(call: Call) -> a.CreateArtifactResponse:
    now = call.now_ms()
    task_id, run_id = call.params["taskId"], _run_id(call)
    row = rules.artifact_row(task_id, run_id, call.params["name"], call.body, now)
    max_bytes = call.app[SETTINGS].max_artifact_bytes
    if row.content_length is not None and row.content_length > max_bytes:
        raise ApiError(ErrorCode.input_too_large, f"an artifact may have at most {max_bytes} bytes")
    call.authorize()
    created = await call.app[STORE].create_artifact(row, new_slugid(), now)
    return await _created(call, created, now)


async def _created(call: Call, created: CreatedArtifact, now: int) -> a.CreateArtifactResponse:
    artifact, obj = created.artifact, created.object
    if obj is not None and artifact.storage_type == "s3":
        url, expires = await upload_url(call.request, obj, now)
        return a.S3ArtifactResponse(
            put_url=url, expires=format_ms(expires), content_type=artifact.content_type
        )
    if obj is not None:
        expiry = max(now + 60_000, min(now + UPLOAD_CREDENTIALS_MS, artifact.expires_ms))
        credentials = queue_credentials(
            call,
            f"artifact-upload/{artifact.task_id}/{artifact.run_id}",
            [f"object:upload:{obj.project_id}:{obj.name}"],
            expiry,
        )
        return a.ObjectArtifactResponse(
            name=obj.name,
            project_id=obj.project_id,
            upload_id=artifact.details["uploadId"],
            expires=format_ms(artifact.expires_ms),
            credentials=credentials,
        )
    if artifact.storage_type == "reference":
        return a.ReferenceCreated()
    return a.LinkCreated() if artifact.storage_type == "link" else a.ErrorCreated()


@handles("finishArtifact")
async def finish_artifact(call: Call) -> None:
    request: a.FinishArtifactRequest = call.body
    call.authorize()
    await call.app[STORE].finish_artifact(
        call.params["taskId"], _run_id(call), call.params["name"], request.upload_id
    )


async def _latest_run_id(call: Call) -> int:
    found = await call.app[STORE].get_record(call.params["taskId"])
    if found is None:
        raise not_found(f"task {call.params['taskId']} not found")
    if not found.status.runs:
        raise not_found(f"task {call.params['taskId']} has no runs")
    return len(found.status.runs) - 1


async def _follow(call: Call, run_id: int) -> ArtifactRow:
    """The artifact named in the URL, links followed; every name on the way needs
    `queue:get-artifact:<name>`. 404 absent, 410 expired, 400 for a cycle (protocol.md)."""
    task_id, name = call.params["taskId"], call.params["name"]
    names: list[str] = []
    while True:
        names.append(name)
        call.authorize(names=names)
        row = await _present(call, task_id, run_id, name)
        if row is None or not row.present:
            raise not_found(f"artifact {name!r} of run {run_id} of task {task_id} not found")
        if rules.expired(row, call.now_ms()):
            raise ApiError(ErrorCode.resource_expired, f"artifact {name!r} has expired")
        if row.storage_type != "link":
            return row
        name = row.details["artifact"]
        if name in names:
            raise input_error(f"the links starting at {names[0]!r} form a cycle")


async def _present(call: Call, task_id: str, run_id: int, name: str) -> ArtifactRow | None:
    """The artifact; an s3 artifact whose bytes went straight to a presigning blob store is
    made present here, once they are there (protocol.md, "Blob transfer")."""
    row = await call.app[STORE].get_artifact(task_id, run_id, name)
    if (
        row is not None
        and not row.present
        and row.storage_type == "s3"
        and await collect_upload(call.app, rules.object_name(task_id, run_id, name))
    ):
        row = await call.app[STORE].get_artifact(task_id, run_id, name)
    return row


async def _content_url(call: Call, row: ArtifactRow) -> str:
    if row.storage_type == "reference":
        return row.details["url"]
    name = rules.object_name(row.task_id, row.run_id, row.name)
    return (await download_url(call.request, name, call.now_ms()))[0]


def _error_artifact(row: ArtifactRow) -> web.Response:
    body = a.ErrorArtifactBody(reason=row.details["reason"], message=row.details["message"])
    return web.Response(
        status=424,
        body=_encode(body),
        content_type="application/json",
        headers={STORAGE_TYPE_HEADER: "error"},
    )


async def _redirect(call: Call, row: ArtifactRow) -> web.Response:
    if row.storage_type == "error":
        return _error_artifact(row)
    url = await _content_url(call, row)
    body = a.GetArtifactResponse(storage_type=row.storage_type, url=url)  # type: ignore[arg-type]
    return web.Response(
        status=303,
        body=_encode(body),
        content_type="application/json",
        headers={"Location": url, STORAGE_TYPE_HEADER: row.storage_type},
    )


@handles("getArtifact")
async def get_artifact(call: Call) -> web.Response:
    return await _redirect(call, await _follow(call, _run_id(call)))


@handles("getLatestArtifact")
async def get_latest_artifact(call: Call) -> web.Response:
    call.authorize(names=[call.params["name"]])  # before saying whether the task exists
    return await _redirect(call, await _follow(call, await _latest_run_id(call)))


async def _content(call: Call, row: ArtifactRow) -> a.ArtifactContent:
    if row.storage_type == "error":
        return a.ErrorContent(reason=row.details["reason"], message=row.details["message"])
    if row.storage_type == "reference":
        return a.ReferenceContent(url=row.details["url"])
    if row.storage_type == "s3":
        return a.S3Content(url=await _content_url(call, row))
    name = rules.object_name(row.task_id, row.run_id, row.name)
    credentials = queue_credentials(
        call,
        f"artifact-download/{row.task_id}/{row.run_id}",
        [f"object:download:{name}"],
        call.now_ms() + DOWNLOAD_CREDENTIALS_MS,
    )
    return a.ObjectContent(name=name, credentials=credentials)


@handles("artifact")
async def artifact(call: Call) -> a.ArtifactContent:
    return await _content(call, await _follow(call, _run_id(call)))


@handles("latestArtifact")
async def latest_artifact(call: Call) -> a.ArtifactContent:
    call.authorize(names=[call.params["name"]])
    return await _content(call, await _follow(call, await _latest_run_id(call)))


async def _list(call: Call, run_id: int) -> a.ListArtifactsResponse:
    if presigning(call.app) is not None:  # bytes PUT straight to the store are looked for
        task_id = call.params["taskId"]
        # With the blob store down the listing still answers, without what is not taken in.
        with contextlib.suppress(BlobStoreUnavailableError):
            for name in await call.app[STORE].waiting_uploads(task_id, run_id, WAITING_LOOKUPS):
                with contextlib.suppress(ApiError):  # a wrong upload: said to its reader
                    await collect_upload(call.app, rules.object_name(task_id, run_id, name))
    rows, token = await call.app[STORE].list_artifacts(
        call.params["taskId"], run_id, page_from_query(call.request.query)
    )
    reply = a.ListArtifactsResponse(artifacts=[rules.info(row) for row in rows])
    if token is not None:
        reply.continuation_token = token
    return reply


@handles("listArtifacts")
async def list_artifacts(call: Call) -> a.ListArtifactsResponse:
    call.authorize()
    run_id = _run_id(call)
    if run_id > await _latest_run_id(call):
        raise not_found(f"task {call.params['taskId']} has no run {run_id}")
    return await _list(call, run_id)


@handles("listLatestArtifacts")
async def list_latest_artifacts(call: Call) -> a.ListArtifactsResponse:
    call.authorize()
    return await _list(call, await _latest_run_id(call))


async def _info(call: Call, run_id: int) -> a.Artifact:
    row = await _present(call, call.params["taskId"], run_id, call.params["name"])
    if row is None or not row.present:
        raise not_found(f"artifact {call.params['name']!r} not found")
    return rules.info(row)


@handles("artifactInfo")
async def artifact_info(call: Call) -> a.Artifact:
    call.authorize()
    return await _info(call, _run_id(call))


@handles("latestArtifactInfo")
async def latest_artifact_info(call: Call) -> a.Artifact:
    call.authorize()
    return await _info(call, await _latest_run_id(call))
