"""Wire types of the artifact endpoints (protocol.md, "Artifacts").

A createArtifact request and its response are unions tagged by `storageType`, as
Taskcluster's `post-artifact-request` schema is a `oneOf` on that property. Requests forbid
unknown fields; responses tolerate them.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from msgspec import UNSET, Meta, Struct, UnsetType

from .ids import SLUGID_PATTERN, exact
from .tasks import TaskCredentials

__all__ = [
    "ARTIFACT_NAME_MAX",
    "DEFAULT_CONTENT_TYPE",
    "ERROR_REASONS",
    "Artifact",
    "ArtifactContent",
    "CreateArtifactRequest",
    "CreateArtifactResponse",
    "ErrorArtifactBody",
    "ErrorArtifactRequest",
    "ErrorContent",
    "ErrorCreated",
    "FinishArtifactRequest",
    "GetArtifactResponse",
    "LinkArtifactRequest",
    "LinkCreated",
    "ListArtifactsResponse",
    "ObjectArtifactRequest",
    "ObjectArtifactResponse",
    "ObjectContent",
    "ReferenceArtifactRequest",
    "ReferenceContent",
    "ReferenceCreated",
    "S3ArtifactRequest",
    "S3ArtifactResponse",
    "S3Content",
    "StorageType",
]

ARTIFACT_NAME_MAX = 1024
DEFAULT_CONTENT_TYPE = "application/binary"
StorageType = Literal["s3", "object", "reference", "link", "error"]
ErrorReason = Literal[
    "file-missing-on-worker",
    "invalid-resource-on-worker",
    "too-large-file-on-worker",
    "file-not-readable-on-worker",
]
ERROR_REASONS: tuple[str, ...] = get_args(ErrorReason)
ContentType = Annotated[str, Meta(min_length=1, max_length=255)]
Length = Annotated[int, Meta(ge=0)]
Slug = Annotated[str, Meta(pattern=exact(SLUGID_PATTERN))]


class _Request(
    Struct, kw_only=True, forbid_unknown_fields=True, rename="camel", tag_field="storageType"
):
    expires: str


class S3ArtifactRequest(_Request, kw_only=True, tag="s3"):
    """Bytes uploaded with one PUT to the `putUrl` of the answer."""

    content_type: ContentType
    content_length: Length | UnsetType = UNSET


class ObjectArtifactRequest(_Request, kw_only=True, tag="object"):
    """Bytes uploaded through the Object service, then `finishArtifact`."""

    content_type: ContentType
    content_length: Length | UnsetType = UNSET


class ReferenceArtifactRequest(_Request, kw_only=True, tag="reference"):
    url: Annotated[str, Meta(min_length=1, max_length=4096, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:")]
    content_type: ContentType | UnsetType = UNSET


class LinkArtifactRequest(_Request, kw_only=True, tag="link"):
    artifact: Annotated[str, Meta(min_length=1, max_length=ARTIFACT_NAME_MAX)]
    content_type: ContentType | UnsetType = UNSET


class ErrorArtifactRequest(_Request, kw_only=True, tag="error"):
    reason: ErrorReason
    message: Annotated[str, Meta(max_length=4096)]


CreateArtifactRequest = (
    S3ArtifactRequest
    | ObjectArtifactRequest
    | ReferenceArtifactRequest
    | LinkArtifactRequest
    | ErrorArtifactRequest
)


class _Response(Struct, kw_only=True, rename="camel", tag_field="storageType"):
    pass


class S3ArtifactResponse(_Response, kw_only=True, tag="s3"):
    put_url: str
    expires: str  # when putUrl stops working
    content_type: str


class ObjectArtifactResponse(_Response, kw_only=True, tag="object"):
    name: str  # the object's name in the Object service
    project_id: str
    upload_id: str
    expires: str
    credentials: TaskCredentials  # may call createUpload / finishUpload for this object


class ReferenceCreated(_Response, kw_only=True, tag="reference"):
    pass


class LinkCreated(_Response, kw_only=True, tag="link"):
    pass


class ErrorCreated(_Response, kw_only=True, tag="error"):
    pass


CreateArtifactResponse = (
    S3ArtifactResponse | ObjectArtifactResponse | ReferenceCreated | LinkCreated | ErrorCreated
)


class FinishArtifactRequest(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    upload_id: Slug


class Artifact(Struct, kw_only=True, rename="camel"):
    """An artifact's metadata, as listed (no link is followed)."""

    storage_type: StorageType
    name: str
    expires: str
    content_type: str
    content_length: int | UnsetType = UNSET


class ListArtifactsResponse(Struct, kw_only=True, rename="camel"):
    artifacts: list[Artifact]
    continuation_token: str | UnsetType = UNSET


class GetArtifactResponse(Struct, kw_only=True, rename="camel"):
    """The JSON body of getArtifact's 303: the same URL as the Location header."""

    storage_type: StorageType
    url: str


class S3Content(_Response, kw_only=True, tag="s3"):
    url: str


class ReferenceContent(_Response, kw_only=True, tag="reference"):
    url: str


class ObjectContent(_Response, kw_only=True, tag="object"):
    name: str
    credentials: TaskCredentials  # may call startDownload for this object


class ErrorContent(_Response, kw_only=True, tag="error"):
    reason: str
    message: str


ArtifactContent = S3Content | ReferenceContent | ObjectContent | ErrorContent


class ErrorArtifactBody(Struct, kw_only=True):
    """The body of the 424 answered for an error artifact (not the usual error body)."""

    reason: str
    message: str
