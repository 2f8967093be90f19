"""The relay's frames: many viewer streams over one worker-to-queue websocket (protocol.md,
"Live logs, shells and the relay"). Pure: encoding, decoding and the flow-control windows.

Every relay frame is one binary websocket message: a type byte, a stream id (unsigned 32-bit,
big-endian), then the payload. The queue opens streams (ids it chooses, never reused on one
connection); both ends send DATA, CREDIT and CLOSE on them. A sender may have at most the
window its peer granted in flight: DATA spends it, CREDIT gives it back once the receiver has
passed the bytes on. So a viewer that stops reading holds back only its own stream.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_NORMAL",
    "CLOSE_PROTOCOL",
    "CLOSE_REPLACED",
    "DEFAULT_WINDOW",
    "MAX_DATA",
    "Accept",
    "Frame",
    "FrameType",
    "OpenStream",
    "ReceiveWindow",
    "Refuse",
    "RelayProtocolError",
    "SendWindow",
    "credit_frame",
    "decode_close",
    "decode_frame",
    "decode_json",
    "encode_close",
    "encode_frame",
    "encode_json",
]

DEFAULT_WINDOW = 256 * 1024  # bytes a receiver grants each stream when it opens
MAX_DATA = 64 * 1024  # the largest DATA payload a sender puts in one frame
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL = 1002  # a malformed frame: closes that stream (or connection) only
CLOSE_REPLACED = 4000  # the worker connected again; this older connection is closed

_HEADER = struct.Struct(">BI")
_CLOSE = struct.Struct(">H")
_CREDIT = struct.Struct(">I")
MAX_STREAM_ID = 2**32 - 1


class RelayProtocolError(ValueError):
    """A frame that does not follow the relay protocol; the message says how."""


class FrameType(IntEnum):
    OPEN = 1  # queue -> worker: JSON OpenStream
    ACCEPT = 2  # worker -> queue: JSON Accept
    REFUSE = 3  # worker -> queue: JSON Refuse; the stream ends
    DATA = 4  # either way: bytes
    CREDIT = 5  # either way: uint32 bytes the sender may send more
    CLOSE = 6  # either way: uint16 code + UTF-8 reason; the sender sends no more


@dataclass(frozen=True)
class Frame:
    type: FrameType
    stream: int
    payload: bytes = b""

    @property
    def credit(self) -> int:
        if len(self.payload) != _CREDIT.size:
            raise RelayProtocolError("a CREDIT frame carries exactly 4 bytes")
        return int(_CREDIT.unpack(self.payload)[0])


def encode_frame(kind: FrameType, stream: int, payload: bytes = b"") -> bytes:
    return _HEADER.pack(kind, stream) + payload


def credit_frame(stream: int, amount: int) -> bytes:
    return encode_frame(FrameType.CREDIT, stream, _CREDIT.pack(amount))


def decode_frame(data: bytes) -> Frame:
    if len(data) < _HEADER.size:
        raise RelayProtocolError(f"a frame has at least {_HEADER.size} bytes, not {len(data)}")
    kind, stream = _HEADER.unpack_from(data)
    try:
        frame_type = FrameType(kind)
    except ValueError:
        raise RelayProtocolError(f"unknown frame type {kind}") from None
    return Frame(frame_type, stream, bytes(data[_HEADER.size :]))


def encode_close(code: int, reason: str) -> bytes:
    return _CLOSE.pack(code) + reason.encode()[:123]


def decode_close(payload: bytes) -> tuple[int, str]:
    if len(payload) < _CLOSE.size:
        return CLOSE_NORMAL, ""
    (code,) = _CLOSE.unpack_from(payload)
    return int(code), payload[_CLOSE.size :].decode(errors="replace")


Window = Annotated[int, Meta(ge=MAX_DATA, le=2**31 - 1)]  # a whole DATA frame always fits
Offset = Annotated[int, Meta(ge=0)]


class OpenStream(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    """What a viewer asked the queue for, passed on to the worker holding the run."""

    kind: Literal["log", "shell"]
    task_id: str
    run_id: Annotated[int, Meta(ge=0)]
    secret: Annotated[str, Meta(max_length=200)]
    window: Window  # bytes the worker may send before the queue grants more
    offset: Offset = 0  # log: the first byte wanted
    follow: bool = True  # log: keep following until the log ends (False: what exists now)
    websocket: bool = True  # the viewer speaks websocket (False: a plain HTTP GET)


class Accept(Struct, kw_only=True, rename="camel"):
    window: Window  # bytes the queue may send on this stream before the worker grants more


class Refuse(Struct, kw_only=True, rename="camel"):
    status: Annotated[int, Meta(ge=400, le=599)]  # the HTTP status the viewer gets
    message: str


_ENCODER = msgspec.json.Encoder()
_T = TypeVar("_T")


def encode_json(value: Struct) -> bytes:
    return _ENCODER.encode(value)


def decode_json(payload: bytes, kind: type[_T]) -> _T:
    try:
        return msgspec.json.decode(payload, type=kind)
    except msgspec.DecodeError as error:
        raise RelayProtocolError(f"bad {kind.__name__}: {error}") from None


class SendWindow:
    """The bytes one end may still send on a stream: spent by DATA, refilled by CREDIT."""

    def __init__(self, granted: int) -> None:
        self.available = granted

    def spend(self, amount: int) -> bool:
        """Spend `amount` bytes if the window holds them all; False (nothing spent) if not."""
        if amount > self.available:
            return False
        self.available -= amount
        return True

    def grant(self, amount: int) -> None:
        if amount <= 0 or self.available + amount > 2**31 - 1:
            raise RelayProtocolError(f"a credit of {amount} bytes overflows the window")
        self.available += amount


class ReceiveWindow:
    """The bytes a receiver granted and not yet handed back; credit goes back in batches."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.outstanding = size  # bytes the peer may still send
        self._consumed = 0

    def received(self, amount: int) -> None:
        if amount > self.outstanding:
            raise RelayProtocolError(
                f"{amount} bytes arrived where only {self.outstanding} were granted"
            )
        self.outstanding -= amount

    def consumed(self, amount: int) -> int:
        """Bytes passed on; the credit to send back now (0: wait for more to batch it)."""
        self._consumed += amount
        if self._consumed < self.size // 4 and self.outstanding > 0:
            return 0
        credit, self._consumed = self._consumed, 0
        self.outstanding += credit
        return credit
