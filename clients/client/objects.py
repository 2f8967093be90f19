"""The typed client of the Object v1 subset the queue serves (protocol.md, "Objects")."""

from __future__ import annotations

from typing import ClassVar

from ..protocol import objects as o
from .service import Body, ServiceClient

__all__ = ["Object"]


class Object(ServiceClient):
    """An async client of ``<rootUrl>/api/object/v1``: uploads and downloads of objects.

    The queue hands out credentials for exactly one object with ``create_artifact`` (upload)
    and ``artifact`` (download); ``Queue.upload_artifact`` / ``download_artifact`` use them.
    """

    service: ClassVar[str] = "object"

    async def create_upload(
        self, name: str, request: o.CreateUploadRequest | Body
    ) -> o.CreateUploadResponse:
        """Begin (or renew) an object's upload; the answer says how to send the bytes."""
        return await self._call("createUpload", o.CreateUploadResponse, {"name": name}, request)

    async def finish_upload(
        self, name: str, request: o.FinishUploadRequest | Body
    ) -> o.FinishUploadResponse:
        """Finish the upload (the server checks the sha256); the object is then immutable."""
        return await self._call("finishUpload", o.FinishUploadResponse, {"name": name}, request)

    async def start_download(
        self, name: str, request: o.StartDownloadRequest | Body
    ) -> o.StartDownloadResponse:
        """A signed URL to download the object by (``simple`` or ``getUrl`` with hashes)."""
        return await self._call(
            "startDownload",
            o.StartDownloadResponse,  # type: ignore[arg-type]
            {"name": name},
            request,
        )

    async def object(self, name: str) -> o.ObjectMetadata:
        """The object's projectId, expiry and hashes."""
        return await self._call("object", o.ObjectMetadata, {"name": name})
