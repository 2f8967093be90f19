"""Signed, expiring URLs of the queue's blob endpoint (protocol.md, "Blob transfer").

A URL names an object and carries its expiry and an HMAC-SHA256 over the method, the object
name, the upload it belongs to (PUT only) and the expiry, keyed with a key derived from the
server's secret. Anyone holding the URL may use it until it expires, without credentials,
as with an S3 presigned URL; it grants nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from clients.protocol.errors import ApiError, ErrorCode

__all__ = ["BLOB_ROUTE", "BlobUrlSigner", "SignedRequest"]

BLOB_ROUTE = "/api/queue/v1/blobs/"
_PURPOSE = b"infrax blob urls v1"


@dataclass(frozen=True)
class SignedRequest:
    name: str
    upload_id: str  # "" for a GET
    expires_ms: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class BlobUrlSigner:
    def __init__(self, secret_key: bytes) -> None:
        self._key = hmac.new(secret_key, _PURPOSE, hashlib.sha256).digest()

    def _signature(self, method: str, name: str, upload_id: str, expires_ms: int) -> str:
        message = f"{method}\n{name}\n{upload_id}\n{expires_ms}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def url(
        self, root_url: str, method: str, name: str, expires_ms: int, upload_id: str = ""
    ) -> str:
        query = {"expires": str(expires_ms)}
        if upload_id:
            query["uploadId"] = upload_id
        query["signature"] = self._signature(method, name, upload_id, expires_ms)
        path = urllib.parse.quote(name, safe="")
        return f"{root_url}{BLOB_ROUTE}{path}?{urllib.parse.urlencode(query)}"

    def verify(
        self, method: str, name: str, query: Mapping[str, str], now_ms: int
    ) -> SignedRequest:
        """The signed request, or 401 when the signature is missing, wrong or expired."""
        expires_text = query.get("expires", "")
        upload_id = query.get("uploadId", "") if method == "PUT" else ""
        given = query.get("signature", "")
        if not expires_text.isdigit() or not given:
            raise ApiError(ErrorCode.authentication_failed, "this URL is not signed")
        expires_ms = int(expires_text)
        expected = self._signature(method, name, upload_id, expires_ms)
        if not hmac.compare_digest(expected, given):
            raise ApiError(ErrorCode.authentication_failed, "this URL's signature is not valid")
        if expires_ms <= now_ms:
            raise ApiError(
                ErrorCode.authentication_failed, "this signed URL has expired; ask the queue again"
            )
        return SignedRequest(name, upload_id, expires_ms)
