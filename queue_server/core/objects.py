"""Object rules, pure (protocol.md, "Objects"): the upload's life from createUpload to
finishUpload, what a PUT of the bytes must look like, and which download method to use.

An object is *open* while `upload_id` is set and *finished* once it is None; only finished
objects can be downloaded and nothing about them changes any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clients.protocol import objects as o
from clients.protocol.errors import ApiError, ErrorCode, conflict, input_error, not_found

__all__ = [
    "UPLOAD_WINDOW_MS",
    "ObjectRow",
    "StoredBlob",
    "check_finish",
    "check_put",
    "check_renewal",
    "choose_download",
    "declared_hashes",
    "download_hashes",
    "merge_hashes",
]

# An upload not finished within a day is abandoned: its object and bytes are deleted.
UPLOAD_WINDOW_MS = 86_400_000
CONTENT_ENCODING_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"


@dataclass(frozen=True)
class StoredBlob:
    """Bytes the blob store holds: where, how many, their SHA-256, and how encoded."""

    key: str
    size: int
    sha256: str
    content_encoding: str | None = None


@dataclass(frozen=True)
class ObjectRow:
    name: str
    project_id: str
    upload_id: str | None  # None once finished
    upload_expires_ms: int
    expires_ms: int
    content_type: str = "application/binary"
    content_length: int | None = None  # as declared for the PUT, if declared
    blob: StoredBlob | None = None  # the bytes received so far (the last complete PUT)
    hashes: dict[str, str] = field(default_factory=dict)  # as declared by the uploader
    finish_on_put: bool = False  # s3 artifacts: a complete PUT finishes the object

    @property
    def finished(self) -> bool:
        return self.upload_id is None


def declared_hashes(hashes: o.ObjectHashes | object) -> dict[str, str]:
    if not isinstance(hashes, o.ObjectHashes):
        return {}
    found = {"sha256": hashes.sha256, "sha512": hashes.sha512}
    return {algorithm: value for algorithm, value in found.items() if isinstance(value, str)}


def merge_hashes(existing: dict[str, str], new: dict[str, str], name: str) -> dict[str, str]:
    for algorithm, value in new.items():
        if existing.get(algorithm, value) != value:
            raise conflict(f"object {name!r} already has a different {algorithm}")
    return {**existing, **new}


def check_renewal(existing: ObjectRow, project_id: str, upload_id: str, expires_ms: int) -> None:
    """A repeated createUpload must be the same upload: same uploadId, project and expiry."""
    if existing.finished:
        raise conflict(f"object {existing.name!r} already exists")
    if existing.upload_id != upload_id:
        raise conflict(f"object {existing.name!r} is being uploaded with another uploadId")
    if existing.project_id != project_id:
        raise conflict(f"object {existing.name!r} belongs to project {existing.project_id!r}")
    if existing.expires_ms != expires_ms:
        raise conflict(f"the expiry of object {existing.name!r} cannot change")


def check_finish(
    found: ObjectRow | None, project_id: str, upload_id: str, hashes: dict[str, str]
) -> dict[str, str] | None:
    """The hashes to record when finishing; None when it is already finished (idempotent)."""
    if found is None:
        raise not_found("object not found")
    if found.project_id != project_id:
        raise input_error(f"object {found.name!r} does not belong to project {project_id!r}")
    if found.finished:
        for algorithm, value in hashes.items():
            if found.hashes.get(algorithm) != value and (
                algorithm != "sha256" or found.blob is None or found.blob.sha256 != value
            ):
                raise conflict(f"object {found.name!r} is finished with a different {algorithm}")
        return None
    if found.upload_id != upload_id:
        raise conflict(f"object {found.name!r} is being uploaded with another uploadId")
    if found.blob is None:
        raise input_error(f"no data was uploaded for object {found.name!r}")
    merged = merge_hashes(found.hashes, hashes, found.name)
    if merged.get("sha256", found.blob.sha256) != found.blob.sha256:
        raise input_error(
            f"the sha256 given for object {found.name!r} is not that of the uploaded data"
            f" ({found.blob.sha256}); upload it again"
        )
    return merged


def check_put(
    found: ObjectRow | None,
    upload_id: str,
    content_type: str,
    content_length: int | None,
    max_bytes: int,
) -> None:
    """Whether a PUT of an object's bytes may start (protocol.md, "Blob transfer")."""
    if found is None or (not found.finished and found.upload_id != upload_id):
        raise not_found("no such upload: the object expired or its upload was replaced")
    if content_type != found.content_type:
        raise input_error(
            f"the Content-Type must be {found.content_type!r}, as declared; got {content_type!r}"
        )
    declared = found.content_length
    if content_length is not None and declared is not None and content_length != declared:
        raise input_error(f"the Content-Length must be {declared}, as declared")
    length = content_length if content_length is not None else declared
    if length is not None and length > max_bytes:
        raise ApiError(ErrorCode.input_too_large, f"an object may have at most {max_bytes} bytes")


def download_hashes(found: ObjectRow) -> dict[str, str]:
    """What startDownload reports: the SHA-256 the server computed, then the declared rest."""
    hashes = dict(found.hashes)
    if found.blob is not None:
        hashes["sha256"] = found.blob.sha256
    return hashes


def choose_download(accept: o.AcceptDownloadMethods) -> str:
    """The method to answer with, preferring `simple` as Taskcluster does; 406 if none."""
    if accept.simple is True:
        return "simple"
    if accept.get_url is True:
        return "getUrl"
    raise ApiError(
        ErrorCode.no_matching_method, "this object can be downloaded with `simple` or `getUrl`"
    )
