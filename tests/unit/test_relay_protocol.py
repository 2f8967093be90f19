"""The relay's frames and windows, and the shell's v2 frames (protocol.md §18.3, §18.4)."""

from __future__ import annotations

import pytest

from clients.protocol.livelog import (
    Resize,
    ShellFrameError,
    Stdin,
    parse_shell_frame,
    relay_url,
    resize_frame,
    shell_page_url,
    socket_url,
    stdin_frame,
)
from clients.protocol.relay import (
    DEFAULT_WINDOW,
    MAX_DATA,
    Accept,
    FrameType,
    OpenStream,
    ReceiveWindow,
    RelayProtocolError,
    SendWindow,
    credit_frame,
    decode_close,
    decode_frame,
    decode_json,
    encode_close,
    encode_frame,
    encode_json,
)


def test_a_frame_is_a_type_byte_a_big_endian_stream_id_and_the_payload() -> None:
    raw = encode_frame(FrameType.DATA, 258, b"abc")
    assert raw == b"\x04\x00\x00\x01\x02abc"
    frame = decode_frame(raw)
    assert (frame.type, frame.stream, frame.payload) == (FrameType.DATA, 258, b"abc")
    assert decode_frame(credit_frame(7, 65536)).credit == 65536


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"\x04\x00", "at least 5 bytes"), (b"\x09\x00\x00\x00\x01", "unknown frame type 9")],
)
def test_a_frame_that_names_no_stream_is_refused_with_the_reason(raw: bytes, message: str) -> None:
    with pytest.raises(RelayProtocolError, match=message):
        decode_frame(raw)


def test_close_carries_a_code_and_a_reason_cut_to_fit_a_websocket_close() -> None:
    assert decode_close(encode_close(1003, "bad frame")) == (1003, "bad frame")
    assert len(encode_close(1000, "x" * 500)) == 2 + 123
    assert decode_close(b"") == (1000, "")


def test_open_requests_are_strict_json_with_a_window_fitting_a_whole_data_frame() -> None:
    request = OpenStream(kind="log", task_id="t", run_id=0, secret="s", window=DEFAULT_WINDOW)
    raw = encode_json(request)
    assert b'"taskId":"t"' in raw and b'"offset":0' in raw
    assert decode_json(raw, OpenStream) == request
    with pytest.raises(RelayProtocolError, match="window"):
        decode_json(raw.replace(b'"window":262144', b'"window":10'), OpenStream)
    with pytest.raises(RelayProtocolError, match="kind"):
        decode_json(raw.replace(b'"log"', b'"exec"'), OpenStream)
    assert decode_json(b'{"window": 65536}', Accept).window == 65536


def test_a_sender_spends_only_whole_frames_of_its_window_and_credit_refills_it() -> None:
    window = SendWindow(MAX_DATA + 10)
    assert window.spend(MAX_DATA)
    assert not window.spend(11)  # nothing spent when it does not fit whole
    assert window.available == 10
    window.grant(MAX_DATA)
    assert window.spend(MAX_DATA + 10)
    with pytest.raises(RelayProtocolError):
        window.grant(0)


def test_a_receiver_refuses_bytes_beyond_its_window_and_credits_in_batches() -> None:
    window = ReceiveWindow(4 * MAX_DATA)
    window.received(MAX_DATA)
    assert window.consumed(MAX_DATA // 2) == 0  # batched: less than a quarter passed on
    credit = window.consumed(MAX_DATA // 2)
    assert credit == MAX_DATA and window.outstanding == 4 * MAX_DATA
    window.received(4 * MAX_DATA)
    with pytest.raises(RelayProtocolError, match="only 0 were granted"):
        window.received(1)


def test_shell_frames_are_generic_worker_v2() -> None:
    assert stdin_frame(b"ls\n") == b"\x01ls\n"
    assert resize_frame(24, 80) == b"\x02\x18\x00\x50\x00"  # rows, then cols, little-endian
    assert parse_shell_frame(b"\x01ls\n") == Stdin(b"ls\n")
    assert parse_shell_frame(resize_frame(50, 132)) == Resize(50, 132)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"", "empty"),
        (b"\x07x", "unknown message type 0x07"),
        (b"\x02\x18\x00", "carries 4 bytes"),
        (b"\x02\x00\x00\x50\x00", "0x80 is not a terminal"),
    ],
)
def test_anything_else_is_not_a_shell_frame(message: bytes, reason: str) -> None:
    with pytest.raises(ShellFrameError, match=reason):
        parse_shell_frame(message)


def test_urls_of_the_relay_and_the_shell_page() -> None:
    root = "https://queue.example.com"
    log = relay_url(root, "liveLog", "T", 2, "s3cret")
    assert log == f"{root}/api/queue/v1/task/T/runs/2/live-log/s3cret"
    assert socket_url(log).startswith("wss://queue.example.com/")
    assert socket_url("http://h:1/x") == "ws://h:1/x"
    page = shell_page_url(root, "wss://h/shell/x", "T", 0)
    assert page == f"{root}/shell/?v=2&socketUrl=wss%3A%2F%2Fh%2Fshell%2Fx&taskId=T&runId=0"
