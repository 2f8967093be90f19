"""The replica-to-replica hop of the relay (protocol.md §18.3, "Several replicas"). Pure.

A replica asked for a stream to a worker whose relay connection another replica holds opens a
websocket to that replica's peer route (GET) with the stream's OPEN request, the holder it
expects, and an HMAC-SHA256 over the method, both and the time, keyed with a key derived from
the secret every replica shares (INFRAX_SECRET_KEY). A replica that took over a worker's
relay record from another asks it, the same way (DELETE), to close the older connection. The route is reachable through the public load balancer,
so without a signature made less than PEER_SKEW_MS ago (either way) it answers 401.

The holder answers with one text message, a `PeerAnswer`, once the worker accepted or refused
the stream; after an `accepted`, the websocket carries the stream's bytes both ways (binary
messages) and its close code and reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import msgspec

from clients.protocol.errors import ApiError, ErrorCode
from clients.protocol.relay import OpenStream, RelayProtocolError, decode_json, encode_json

__all__ = [
    "PEER_ROUTE",
    "PEER_SKEW_MS",
    "PeerAnswer",
    "PeerRequest",
    "PeerSigner",
    "decode_answer",
    "encode_answer",
    "open_detail",
    "opened",
    "peer_path",
]

PEER_ROUTE = "/internal/relay/{workerGroup}/{workerId}"
PEER_SKEW_MS = 60_000  # a signature older (or newer) than this is refused
DETAIL_HEADER = "X-Infrax-Relay-Detail"  # GET: base64url of the OPEN's JSON; DELETE: a connection
HOLDER_HEADER = "X-Infrax-Relay-Holder"  # the replica id the caller found in the store
SIGNATURE_HEADER = "X-Infrax-Replica-Signature"  # "<milliseconds>.<base64url HMAC>"
_PURPOSE = b"infrax relay peers v1"


class PeerAnswer(msgspec.Struct, forbid_unknown_fields=False):
    # accepted: the stream follows; refused: the worker's (or the holder's) status and
    # message; absent: the holder does not hold the worker's connection (any more).
    outcome: Literal["accepted", "refused", "absent"]
    status: int = 0
    message: str = ""


_encode_answer = msgspec.json.Encoder().encode
_decode_answer = msgspec.json.Decoder(PeerAnswer).decode


def encode_answer(answer: PeerAnswer) -> str:
    return _encode_answer(answer).decode()


def decode_answer(text: str) -> PeerAnswer:
    """The holder's answer; RelayProtocolError when it is not one."""
    try:
        return _decode_answer(text)
    except msgspec.DecodeError as error:
        raise RelayProtocolError(f"bad answer from the holding replica: {error}") from None


def peer_path(worker_group: str, worker_id: str) -> str:
    return PEER_ROUTE.format(workerGroup=worker_group, workerId=worker_id)


@dataclass(frozen=True)
class PeerRequest:
    holder_id: str  # the replica the caller found recorded as the holder
    detail: str  # GET: the OPEN request (`open_detail`); DELETE: the connection id to close


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def open_detail(request: OpenStream) -> str:
    return _b64(encode_json(request))


def opened(detail: str) -> OpenStream:
    """The OPEN request a GET carries, or 400."""
    try:
        return decode_json(base64.urlsafe_b64decode(detail + "=" * (-len(detail) % 4)), OpenStream)
    except (RelayProtocolError, binascii.Error, ValueError) as error:
        raise ApiError(ErrorCode.input_error, f"bad {DETAIL_HEADER}: {error}") from None


def _unauthorized(why: str) -> ApiError:
    return ApiError(
        ErrorCode.authentication_failed,
        f"the replica-to-replica relay route needs a signature made with the replicas' shared"
        f" secret (INFRAX_SECRET_KEY): {why}",
    )


class PeerSigner:
    def __init__(self, secret_key: bytes) -> None:
        self._key = hmac.new(secret_key, _PURPOSE, hashlib.sha256).digest()

    def _mac(
        self, method: str, when_ms: int, group: str, worker: str, holder: str, detail: str
    ) -> str:
        message = f"{method}\n{when_ms}\n{group}\n{worker}\n{holder}\n{detail}".encode()
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def headers(
        self, method: str, group: str, worker: str, holder_id: str, detail: str, now_ms: int
    ) -> dict[str, str]:
        mac = self._mac(method, now_ms, group, worker, holder_id, detail)
        return {
            DETAIL_HEADER: detail,
            HOLDER_HEADER: holder_id,
            SIGNATURE_HEADER: f"{now_ms}.{mac}",
        }

    def verify(
        self, method: str, group: str, worker: str, headers: Mapping[str, str], now_ms: int
    ) -> PeerRequest:
        """The signed request, or 401 saying what is missing or wrong."""
        signature = headers.get(SIGNATURE_HEADER, "")
        detail, holder_id = headers.get(DETAIL_HEADER, ""), headers.get(HOLDER_HEADER, "")
        if not signature:
            raise _unauthorized(f"no {SIGNATURE_HEADER} header")
        when, _, mac = signature.partition(".")
        if not when.isdigit() or abs(now_ms - int(when)) > PEER_SKEW_MS:
            raise _unauthorized("the signature's time is missing or too far from now")
        expected = self._mac(method, int(when), group, worker, holder_id, detail)
        if not hmac.compare_digest(expected.encode(), mac.encode()):
            raise _unauthorized("the signature does not match")
        return PeerRequest(holder_id, detail)
