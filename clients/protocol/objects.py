"""Wire types of the Object service subset (protocol.md, "Objects").

These are the calls the official client's `taskcluster.upload` and `taskcluster.download`
helpers make: createUpload with the `dataInline` and `putUrl` methods, finishUpload with
hashes, startDownload with the `simple` and `getUrl` methods, and the object's metadata.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

from .ids import PROJECT_ID_PATTERN, SLUGID_PATTERN, exact

__all__ = [
    "DATA_INLINE_MAX_BYTES",
    "AcceptDownloadMethods",
    "CreateUploadRequest",
    "CreateUploadResponse",
    "DataInlineProposal",
    "FinishUploadRequest",
    "FinishUploadResponse",
    "GetUrlDownload",
    "ObjectHashes",
    "ObjectMetadata",
    "ProposedUploadMethods",
    "PutUrlMethod",
    "PutUrlProposal",
    "SimpleDownload",
    "StartDownloadRequest",
    "StartDownloadResponse",
    "UploadMethod",
]

# The official helpers propose dataInline below 8 KiB; base64 makes that under 11 KiB of text.
DATA_INLINE_MAX_BYTES = 8192
Slug = Annotated[str, Meta(pattern=exact(SLUGID_PATTERN))]
ProjectId = Annotated[str, Meta(pattern=exact(PROJECT_ID_PATTERN), min_length=1, max_length=500)]
ContentType = Annotated[str, Meta(min_length=1, max_length=255)]


class _Request(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class _Response(Struct, kw_only=True, rename="camel"):
    pass


class ObjectHashes(_Request, kw_only=True):
    """Hex digests of the object's bytes; sha256 is checked by the server (protocol.md)."""

    sha256: Annotated[str, Meta(pattern=r"^[a-f0-9]{64}\Z")] | UnsetType = UNSET
    sha512: Annotated[str, Meta(pattern=r"^[a-f0-9]{128}\Z")] | UnsetType = UNSET


class DataInlineProposal(_Request, kw_only=True):
    content_type: ContentType
    object_data: Annotated[str, Meta(max_length=4 * (DATA_INLINE_MAX_BYTES // 3 + 1))]


class PutUrlProposal(_Request, kw_only=True):
    content_type: ContentType
    content_length: Annotated[int, Meta(ge=0)]


class ProposedUploadMethods(_Request, kw_only=True):
    data_inline: DataInlineProposal | UnsetType = UNSET
    put_url: PutUrlProposal | UnsetType = UNSET


class CreateUploadRequest(_Request, kw_only=True):
    project_id: ProjectId
    upload_id: Slug
    expires: str
    hashes: ObjectHashes | UnsetType = UNSET
    proposed_upload_methods: ProposedUploadMethods


class PutUrlMethod(_Response, kw_only=True):
    url: str
    expires: str
    headers: dict[str, str]  # to send with the PUT, exactly


class UploadMethod(_Response, kw_only=True):
    """The method the server chose; empty when none was proposed (the upload is locked in)."""

    data_inline: bool | UnsetType = UNSET
    put_url: PutUrlMethod | UnsetType = UNSET


class CreateUploadResponse(_Response, kw_only=True):
    project_id: str
    upload_id: str
    expires: str
    upload_method: UploadMethod


class FinishUploadRequest(_Request, kw_only=True):
    project_id: ProjectId
    upload_id: Slug
    hashes: ObjectHashes | UnsetType = UNSET


class FinishUploadResponse(_Response, kw_only=True):
    pass


class AcceptDownloadMethods(Struct, kw_only=True, rename="camel"):
    """Methods the caller can use; unknown (newer) methods are ignored, not refused."""

    simple: bool | UnsetType = UNSET
    get_url: bool | UnsetType = UNSET


class StartDownloadRequest(_Request, kw_only=True):
    accept_download_methods: AcceptDownloadMethods


class _Download(Struct, kw_only=True, rename="camel", tag_field="method"):
    url: str


class SimpleDownload(_Download, kw_only=True, tag="simple"):
    pass


class GetUrlDownload(_Download, kw_only=True, tag="getUrl"):
    expires: str
    hashes: dict[str, str]


StartDownloadResponse = SimpleDownload | GetUrlDownload


class ObjectMetadata(_Response, kw_only=True):
    project_id: str
    expires: str
    hashes: dict[str, str]
