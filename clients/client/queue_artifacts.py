"""Queue calls about artifacts, and streaming uploads and downloads of their bytes
(protocol.md, "Artifacts")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from ..protocol import artifacts as a
from .errors import ClientError
from .objects import Object
from .options import credentials_of
from .service import Body, ServiceClient
from .transfer import Downloaded, Progress, get_file, put_file

__all__ = ["ArtifactCalls", "ArtifactError"]


class ArtifactError(ClientError):
    """The artifact is an error artifact: the worker said why it has no content."""

    def __init__(self, name: str, reason: str, message: str) -> None:
        super().__init__(f"artifact {name!r} is an error artifact ({reason}): {message}")
        self.reason = reason
        self.message = message


def _run(task_id: str, run_id: int, name: str) -> dict[str, object]:
    return {"taskId": task_id, "runId": run_id, "name": name}


class ArtifactCalls(ServiceClient):
    """Artifacts; mixed into ``Queue``."""

    async def create_artifact(
        self, task_id: str, run_id: int, name: str, request: a.CreateArtifactRequest | Body
    ) -> a.CreateArtifactResponse:
        """Create an artifact of a run; for s3 the answer holds the URL to PUT its bytes to."""
        out = a.CreateArtifactResponse
        return await self._call("createArtifact", out, _run(task_id, run_id, name), request)  # type: ignore[arg-type]

    async def finish_artifact(
        self, task_id: str, run_id: int, name: str, request: a.FinishArtifactRequest | Body
    ) -> None:
        """Mark an object artifact present once its object upload is finished."""
        await self._call_empty("finishArtifact", _run(task_id, run_id, name), request)

    async def get_artifact(self, task_id: str, run_id: int, name: str) -> a.GetArtifactResponse:
        """Where the artifact's content is (the body of the 303; links followed)."""
        params = _run(task_id, run_id, name)
        return await self._call("getArtifact", a.GetArtifactResponse, params)

    async def get_latest_artifact(self, task_id: str, name: str) -> a.GetArtifactResponse:
        """As ``get_artifact``, for the task's latest run."""
        params = {"taskId": task_id, "name": name}
        return await self._call("getLatestArtifact", a.GetArtifactResponse, params)

    async def list_artifacts(
        self,
        task_id: str,
        run_id: int,
        *,
        continuation_token: str | None = None,
        limit: int | None = None,
    ) -> a.ListArtifactsResponse:
        """One page of a run's artifacts, by name."""
        query = {"continuationToken": continuation_token, "limit": limit}
        params = {"taskId": task_id, "runId": run_id}
        return await self._call("listArtifacts", a.ListArtifactsResponse, params, None, query)

    def iter_list_artifacts(
        self, task_id: str, run_id: int, *, limit: int | None = None
    ) -> AsyncIterator[a.Artifact]:
        """Every artifact of the run."""
        return self._paginate(
            lambda token: self.list_artifacts(
                task_id, run_id, continuation_token=token, limit=limit
            ),
            lambda page: page.artifacts,
        )

    async def list_latest_artifacts(
        self, task_id: str, *, continuation_token: str | None = None, limit: int | None = None
    ) -> a.ListArtifactsResponse:
        """One page of the artifacts of the task's latest run."""
        query = {"continuationToken": continuation_token, "limit": limit}
        out = a.ListArtifactsResponse
        return await self._call("listLatestArtifacts", out, {"taskId": task_id}, None, query)

    def iter_list_latest_artifacts(
        self, task_id: str, *, limit: int | None = None
    ) -> AsyncIterator[a.Artifact]:
        """Every artifact of the task's latest run."""
        return self._paginate(
            lambda token: self.list_latest_artifacts(
                task_id, continuation_token=token, limit=limit
            ),
            lambda page: page.artifacts,
        )

    async def artifact_info(self, task_id: str, run_id: int, name: str) -> a.Artifact:
        """The artifact's metadata (a link is not followed)."""
        return await self._call("artifactInfo", a.Artifact, _run(task_id, run_id, name))

    async def latest_artifact_info(self, task_id: str, name: str) -> a.Artifact:
        """As ``artifact_info``, for the task's latest run."""
        params = {"taskId": task_id, "name": name}
        return await self._call("latestArtifactInfo", a.Artifact, params)

    async def artifact(self, task_id: str, run_id: int, name: str) -> a.ArtifactContent:
        """How to fetch the artifact's content: a URL, object credentials, or its error."""
        out = a.ArtifactContent
        return await self._call("artifact", out, _run(task_id, run_id, name))  # type: ignore[arg-type]

    async def latest_artifact(self, task_id: str, name: str) -> a.ArtifactContent:
        """As ``artifact``, for the task's latest run."""
        params = {"taskId": task_id, "name": name}
        return await self._call("latestArtifact", a.ArtifactContent, params)  # type: ignore[arg-type]

    # -- bytes -----------------------------------------------------------------------------------
    async def upload_artifact(
        self,
        task_id: str,
        run_id: int,
        name: str,
        path: Path,
        *,
        content_type: str,
        expires: str,
        content_encoding: str | None = None,
    ) -> None:
        """Upload a file as an s3 artifact: createArtifact, then one streamed PUT (retried on
        5xx and resets). A worker's credentials for the run suffice. When the PUT went
        straight to the queue's blob store (S3), `artifactInfo` then has the queue take the
        bytes in and check them, so the artifact is there once this returns."""
        size = (await asyncio.to_thread(path.stat)).st_size
        request = a.S3ArtifactRequest(
            expires=expires, content_type=content_type, content_length=size
        )
        created = await self.create_artifact(task_id, run_id, name, request)
        if not isinstance(created, a.S3ArtifactResponse):
            raise ClientError(f"createArtifact answered a {type(created).__name__}")
        headers = {"Content-Type": content_type, "Content-Length": str(size)}
        if content_encoding:
            headers["Content-Encoding"] = content_encoding
        await put_file(self.session(), created.put_url, path, headers, self.options.retry)
        if not created.put_url.startswith(f"{self.options.root_url}/"):
            await self.artifact_info(task_id, run_id, name)

    async def download_artifact(
        self,
        task_id: str,
        name: str,
        path: Path | BinaryIO,
        *,
        run_id: int | None = None,
        progress: Progress | None = None,
    ) -> Downloaded:
        """Download an artifact (the latest run's unless ``run_id``) into ``path`` (or an open
        binary file, left open), following links, resuming cut transfers, checking an
        object's sha256; bytes as stored. ``progress(written, total)`` is called from a
        worker thread as bytes arrive (``total`` None when the server does not say)."""
        if run_id is None:
            content = await self.latest_artifact(task_id, name)
        else:
            content = await self.artifact(task_id, run_id, name)
        if isinstance(content, a.ErrorContent):
            raise ArtifactError(name, content.reason, content.message)
        expected = None
        if isinstance(content, a.ObjectContent):
            objects = self.sibling(
                Object, self.options.with_credentials(credentials_of(content.credentials))
            )
            started = await objects.start_download(
                content.name, {"acceptDownloadMethods": {"getUrl": True}}
            )
            url = started.url
            expected = getattr(started, "hashes", {}).get("sha256")
        else:
            url = content.url
        done = await get_file(self.session(), url, path, self.options.retry, progress=progress)
        if expected is not None and done.sha256 != expected:
            raise ClientError(
                f"artifact {name!r}: sha256 {done.sha256} is not the expected {expected}"
            )
        return done
