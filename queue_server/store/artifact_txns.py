"""Transactions on artifacts, objects and loose blobs, written once for both stores (db.py).

What these keep true (see schema.py): an artifact of type s3 or object is present only when
the object holding its bytes is finished; every blob the blob store may hold is referenced
either by exactly one object or by a `loose_blobs` row, so nothing on disk is ever forgotten.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec

from clients.protocol.errors import conflict, input_error, not_found
from clients.protocol.events import Message

from ..core import artifacts as rules
from ..core.artifacts import ArtifactRow, CreatedArtifact
from ..core.objects import (
    UPLOAD_WINDOW_MS,
    ObjectRow,
    StoredBlob,
    check_finish,
    check_renewal,
    merge_hashes,
)
from ..core.pages import Page
from .db import Db
from .listings import page_rows
from .records import load_record

__all__ = [
    "attach_blob",
    "begin_blob",
    "create_artifact",
    "create_upload",
    "drop_task_artifacts",
    "due_blobs",
    "expire_artifacts",
    "finish_artifact",
    "finish_upload",
    "forget_blobs",
    "get_artifact",
    "get_object",
    "list_artifacts",
    "waiting_uploads",
]

_encode = msgspec.json.encode
_decode_map = msgspec.json.Decoder(dict[str, str]).decode

_ARTIFACT = (
    "task_id, run_id, name, storage_type, content_type, expires, present, content_length, details"
)
_OBJECT = (
    "name, project_id, upload_id, upload_expires, expires, content_type, content_length,"
    " blob_key, size, sha256, content_encoding, hashes, finish_on_put"
)


def _artifact(row: tuple[Any, ...]) -> ArtifactRow:
    task_id, run_id, name, kind, content_type, expires, present, length, details = row
    return ArtifactRow(
        task_id, run_id, name, kind, content_type, expires, bool(present), length,
        _decode_map(details),
    )  # fmt: skip


def _object(row: tuple[Any, ...]) -> ObjectRow:
    name, project, upload_id, upload_expires, expires, content_type, length = row[:7]
    key, size, sha256, encoding, hashes, finish_on_put = row[7:]
    blob = None if key is None else StoredBlob(key, size, sha256, encoding)
    return ObjectRow(
        name, project, upload_id, upload_expires, expires, content_type, length, blob,
        _decode_map(hashes), bool(finish_on_put),
    )  # fmt: skip


async def get_artifact(db: Db, task_id: str, run_id: int, name: str) -> ArtifactRow | None:
    row = await db.one(
        f"SELECT {_ARTIFACT} FROM artifacts WHERE task_id = ? AND run_id = ? AND name = ?",
        (task_id, run_id, name),
    )
    return None if row is None else _artifact(row)


async def get_object(db: Db, name: str, lock: str = "") -> ObjectRow | None:
    row = await db.one(f"SELECT {_OBJECT} FROM objects WHERE name = ?{lock}", (name,))
    return None if row is None else _object(row)


async def list_artifacts(
    db: Db, task_id: str, run_id: int, page: Page
) -> tuple[list[ArtifactRow], str | None]:
    (after,) = page.key(("",))
    rows = await db.all(
        f"SELECT name, {_ARTIFACT} FROM artifacts WHERE task_id = ? AND run_id = ?"
        " AND present = 1 AND name > ? ORDER BY name LIMIT ?",
        (task_id, run_id, after, page.limit + 1),
    )
    rows, token = page_rows(rows, page)
    return [_artifact(row[1:]) for row in rows], token


async def waiting_uploads(db: Db, task_id: str, run_id: int, limit: int) -> list[str]:
    """Names of the run's s3 artifacts still waiting for their bytes."""
    rows = await db.all(
        "SELECT name FROM artifacts WHERE task_id = ? AND run_id = ? AND present = 0"
        " AND storage_type = 's3' ORDER BY name LIMIT ?",
        (task_id, run_id, limit),
    )
    return [name for (name,) in rows]


async def _save_artifact(db: Db, row: ArtifactRow) -> None:
    await db.run(
        f"INSERT INTO artifacts ({_ARTIFACT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (task_id, run_id, name) DO UPDATE SET storage_type = excluded.storage_type,"
        " expires = excluded.expires, present = excluded.present, details = excluded.details",
        (
            row.task_id, row.run_id, row.name, row.storage_type, row.content_type,
            row.expires_ms, int(row.present), row.content_length, _encode(row.details),
        ),
    )  # fmt: skip


async def _save_object(db: Db, obj: ObjectRow) -> None:
    blob = obj.blob
    await db.run(
        f"INSERT INTO objects ({_OBJECT}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET upload_id = excluded.upload_id,"
        " expires = excluded.expires, content_type = excluded.content_type,"
        " content_length = excluded.content_length, blob_key = excluded.blob_key,"
        " size = excluded.size, sha256 = excluded.sha256,"
        " content_encoding = excluded.content_encoding, hashes = excluded.hashes",
        (
            obj.name, obj.project_id, obj.upload_id, obj.upload_expires_ms, obj.expires_ms,
            obj.content_type, obj.content_length, None if blob is None else blob.key,
            None if blob is None else blob.size, None if blob is None else blob.sha256,
            None if blob is None else blob.content_encoding, _encode(obj.hashes),
            int(obj.finish_on_put),
        ),
    )  # fmt: skip


async def _loose(db: Db, key: str, delete_after_ms: int) -> None:
    await db.run(
        "INSERT INTO loose_blobs (blob_key, delete_after) VALUES (?, ?)"
        " ON CONFLICT (blob_key) DO UPDATE SET delete_after = excluded.delete_after",
        (key, delete_after_ms),
    )


async def create_artifact(
    db: Db, new: ArtifactRow, upload_id: str, now_ms: int
) -> tuple[CreatedArtifact, list[Message]]:
    """Create the artifact, or repeat a compatible earlier request (protocol.md).

    `upload_id` is a fresh slugid, used when the artifact's bytes need a new upload.
    """
    record = await load_record(db, new.task_id)
    if record is None:
        raise input_error(f"task {new.task_id} not found")
    run = rules.check_creatable(record, new, now_ms)
    original = await get_artifact(db, new.task_id, new.run_id, new.name)
    if original is None:
        stored = (
            replace(new, details={"uploadId": upload_id}) if new.storage_type == "object" else new
        )
    elif rules.compatible(original, new):
        stored = rules.updated(original, new)
    else:
        raise conflict(
            f"artifact {new.name!r} already exists as a {original.storage_type} artifact"
            f" ({original.content_type}, expires {original.expires_ms}); only the allowed"
            " changes may be repeated"
        )
    await _save_artifact(db, stored)
    obj = None
    if stored.storage_type in rules.BYTES_TYPES:
        obj = await _artifact_object(db, stored, record.task.project_id, upload_id, now_ms)
    messages = []
    if stored.present and stored.storage_type != "s3":
        messages.append(rules.created_message(record, run, stored))
    return CreatedArtifact(stored, obj), messages


async def _artifact_object(
    db: Db, artifact: ArtifactRow, project_id: str, upload_id: str, now_ms: int
) -> ObjectRow:
    """The object holding the artifact's bytes, made (again) if need be, expiring with it."""
    name = rules.object_name(artifact.task_id, artifact.run_id, artifact.name)
    existing = await get_object(db, name)
    if existing is not None:
        if existing.expires_ms != artifact.expires_ms:
            existing = replace(existing, expires_ms=artifact.expires_ms)
            await _save_object(db, existing)
        return existing
    s3 = artifact.storage_type == "s3"
    obj = ObjectRow(
        name,
        project_id,
        artifact.details.get("uploadId", upload_id),
        now_ms + UPLOAD_WINDOW_MS,
        artifact.expires_ms,
        content_type=artifact.content_type,
        content_length=artifact.content_length if s3 else None,
        finish_on_put=s3,
    )
    await _save_object(db, obj)
    return obj


async def finish_artifact(
    db: Db, task_id: str, run_id: int, name: str, upload_id: str
) -> tuple[None, list[Message]]:
    record = await load_record(db, task_id)
    artifact = await get_artifact(db, task_id, run_id, name)
    if record is None or artifact is None or not 0 <= run_id < len(record.runs):
        raise not_found(f"artifact {name!r} of run {run_id} of task {task_id} not found")
    if artifact.storage_type != "object":
        raise input_error("only object artifacts are finished; this one needs no finishing")
    if not artifact.present:
        if upload_id != artifact.details.get("uploadId"):
            raise input_error("the uploadId is not that of the artifact")
        obj = await get_object(db, rules.object_name(task_id, run_id, name))
        if obj is None or not obj.finished:
            raise input_error("the artifact's object is not uploaded: call finishUpload first")
        artifact = replace(artifact, present=True)
        await _save_artifact(db, artifact)
    # A repeat republishes, as Taskcluster's at-least-once messages do.
    return None, [rules.created_message(record, record.runs[run_id], artifact)]


async def create_upload(
    db: Db,
    proposed: ObjectRow,
    negotiated: bool,
    now_ms: int,
) -> ObjectRow:
    """Begin the upload `proposed` describes, or renew the same upload (protocol.md)."""
    existing = await get_object(db, proposed.name)
    if existing is None:
        obj = replace(proposed, upload_expires_ms=now_ms + UPLOAD_WINDOW_MS)
    else:
        check_renewal(existing, proposed.project_id, str(proposed.upload_id), proposed.expires_ms)
        hashes = merge_hashes(existing.hashes, proposed.hashes, existing.name)
        obj = replace(existing, hashes=hashes)
        if negotiated:
            obj = replace(
                obj, content_type=proposed.content_type, content_length=proposed.content_length
            )
    await _save_object(db, obj)
    return obj


async def begin_blob(db: Db, key: str, delete_after_ms: int) -> None:
    """Note a blob about to be written: until attached it is loose, and swept after then."""
    await _loose(db, key, delete_after_ms)


async def attach_blob(db: Db, name: str, upload_id: str, blob: StoredBlob, now_ms: int) -> bool:
    """Make `blob` the object's bytes; False when the finished object already holds the
    same bytes (an idempotent repeat: the new copy is not needed). 409 if it differs. The
    row is locked first: of two concurrent attaches (two first reads of one s3 artifact on
    PostgreSQL) the second sees the first's blob, which it would otherwise orphan."""
    obj = await get_object(db, name, db.dialect.for_update)
    if obj is None or (not obj.finished and obj.upload_id != upload_id):
        raise not_found("no such upload: the object expired or its upload was replaced")
    if obj.finished:
        if obj.blob is not None and (obj.blob.sha256, obj.blob.size) == (blob.sha256, blob.size):
            return False
        raise conflict(f"object {name!r} is finished; its bytes cannot change")
    if obj.blob is not None:
        await _loose(db, obj.blob.key, now_ms)
    await db.run("DELETE FROM loose_blobs WHERE blob_key = ?", (blob.key,))
    obj = replace(obj, blob=blob)
    if obj.finish_on_put:
        obj = replace(obj, upload_id=None)
        found = rules.artifact_of_object_name(name)
        if found is not None:
            await db.run(
                "UPDATE artifacts SET present = 1 WHERE task_id = ? AND run_id = ? AND name = ?"
                " AND storage_type = 's3'",
                found,
            )
    await _save_object(db, obj)
    return True


async def finish_upload(
    db: Db, name: str, project_id: str, upload_id: str, hashes: dict[str, str]
) -> bool:
    """Finish the upload; False when it already was (an idempotent repeat)."""
    obj = await get_object(db, name, db.dialect.for_update)
    merged = check_finish(obj, project_id, upload_id, hashes)
    if obj is None or merged is None:
        return False
    await _save_object(db, replace(obj, upload_id=None, hashes=merged))
    return True


async def _drop_object(db: Db, name: str, now_ms: int) -> None:
    row = await db.one("DELETE FROM objects WHERE name = ? RETURNING blob_key", (name,))
    if row is not None and row[0] is not None:
        await _loose(db, row[0], now_ms)


async def expire_artifacts(db: Db, now_ms: int, limit: int) -> int:
    """Delete expired artifacts and objects, and abandoned uploads; their blobs go loose."""
    artifacts = await db.all(
        "SELECT task_id, run_id, name, storage_type FROM artifacts WHERE expires <= ?"
        " ORDER BY expires LIMIT ?" + db.dialect.lock_skipping("artifacts"),
        (now_ms, limit),
    )
    for task_id, run_id, name, kind in artifacts:
        await db.run(
            "DELETE FROM artifacts WHERE task_id = ? AND run_id = ? AND name = ?",
            (task_id, run_id, name),
        )
        if kind in rules.BYTES_TYPES:
            await _drop_object(db, rules.object_name(task_id, run_id, name), now_ms)
    objects = await db.all(
        "SELECT name FROM objects WHERE expires <= ? ORDER BY expires LIMIT ?"
        + db.dialect.lock_skipping("objects"),
        (now_ms, limit),
    )
    abandoned = await db.all(
        "SELECT name FROM objects WHERE upload_id IS NOT NULL AND upload_expires <= ?"
        " ORDER BY upload_expires LIMIT ?" + db.dialect.lock_skipping("objects"),
        (now_ms, limit),
    )
    for (name,) in [*objects, *abandoned]:
        await _drop_object(db, name, now_ms)
    return len(artifacts) + len(objects) + len(abandoned)


async def drop_task_artifacts(db: Db, task_ids: list[str], now_ms: int) -> None:
    """With a task that is deleted go its artifacts and the objects holding their bytes."""
    for task_id in task_ids:
        await db.run("DELETE FROM artifacts WHERE task_id = ?", (task_id,))
        # Every object named t/<taskId>/...: the names between "t/<taskId>/" and "t/<taskId>0".
        names = await db.all(
            "SELECT name FROM objects WHERE name >= ? AND name < ?",
            (f"t/{task_id}/", f"t/{task_id}0"),
        )
        for (name,) in names:
            await _drop_object(db, name, now_ms)


async def due_blobs(db: Db, now_ms: int, limit: int) -> list[str]:
    rows = await db.all(
        "SELECT blob_key FROM loose_blobs WHERE delete_after <= ? ORDER BY delete_after LIMIT ?",
        (now_ms, limit),
    )
    return [key for (key,) in rows]


async def forget_blobs(db: Db, keys: list[str]) -> None:
    """The blobs are deleted from the blob store: forget them."""
    await db.run_many("DELETE FROM loose_blobs WHERE blob_key = ?", [(key,) for key in keys])
