"""The artifact and object half of the shared store: each method one transaction
(artifact_txns), run by the backend (sql.py)."""

from __future__ import annotations

from typing import Any, TypeVar

from clients.protocol.events import Message

from ..core.artifacts import ArtifactRow, CreatedArtifact
from ..core.objects import ObjectRow, StoredBlob
from ..core.pages import Page
from . import artifact_txns as txns
from .db import Db, Txn

__all__ = ["ArtifactMethods"]

T = TypeVar("T")


def quiet(fn: Txn[T]) -> Txn[tuple[T, list[Message]]]:
    """A transaction that publishes nothing."""

    async def txn(db: Db, *args: Any) -> tuple[T, list[Message]]:
        return await fn(db, *args), []

    return txn


class ArtifactMethods:
    """Mixed into SqlStore, which provides `_read` and `_write`."""

    async def _read(self, fn: Txn[T], *args: Any) -> T:
        raise NotImplementedError

    async def _write(self, fn: Txn[tuple[T, list[Message]]], *args: Any) -> T:
        raise NotImplementedError

    async def create_artifact(
        self, row: ArtifactRow, upload_id: str, now_ms: int
    ) -> CreatedArtifact:
        return await self._write(txns.create_artifact, row, upload_id, now_ms)

    async def finish_artifact(self, task_id: str, run_id: int, name: str, upload_id: str) -> None:
        await self._write(txns.finish_artifact, task_id, run_id, name, upload_id)

    async def get_artifact(self, task_id: str, run_id: int, name: str) -> ArtifactRow | None:
        return await self._read(txns.get_artifact, task_id, run_id, name)

    async def list_artifacts(
        self, task_id: str, run_id: int, page: Page
    ) -> tuple[list[ArtifactRow], str | None]:
        return await self._read(txns.list_artifacts, task_id, run_id, page)

    async def waiting_uploads(self, task_id: str, run_id: int, limit: int) -> list[str]:
        return await self._read(txns.waiting_uploads, task_id, run_id, limit)

    async def create_upload(self, proposed: ObjectRow, negotiated: bool, now_ms: int) -> ObjectRow:
        return await self._write(quiet(txns.create_upload), proposed, negotiated, now_ms)

    async def get_object(self, name: str) -> ObjectRow | None:
        return await self._read(txns.get_object, name)

    async def begin_blob(self, key: str, delete_after_ms: int) -> None:
        await self._write(quiet(txns.begin_blob), key, delete_after_ms)

    async def attach_blob(self, name: str, upload_id: str, blob: StoredBlob, now_ms: int) -> bool:
        return await self._write(quiet(txns.attach_blob), name, upload_id, blob, now_ms)

    async def finish_upload(
        self, name: str, project_id: str, upload_id: str, hashes: dict[str, str]
    ) -> bool:
        return await self._write(quiet(txns.finish_upload), name, project_id, upload_id, hashes)

    async def expire_artifacts(self, now_ms: int, limit: int) -> int:
        return await self._write(quiet(txns.expire_artifacts), now_ms, limit)

    async def due_blobs(self, now_ms: int, limit: int) -> list[str]:
        return await self._read(txns.due_blobs, now_ms, limit)

    async def forget_blobs(self, keys: list[str]) -> None:
        await self._write(quiet(txns.forget_blobs), keys)
