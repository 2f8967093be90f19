"""The signature of the replica-to-replica relay hop (queue_server/core/relay_peers.py)."""

from __future__ import annotations

import pytest

from clients.protocol.errors import ApiError
from clients.protocol.relay import OpenStream
from queue_server.core.relay_peers import (
    PEER_SKEW_MS,
    PeerAnswer,
    PeerSigner,
    decode_answer,
    encode_answer,
    open_detail,
    opened,
)

NOW = 1_700_000_000_000
KEY = bytes(range(32))
REQUEST = OpenStream(kind="shell", task_id="t", run_id=2, secret="s", window=65536)


def _signed(method: str = "GET", now: int = NOW) -> dict[str, str]:
    return PeerSigner(KEY).headers(method, "g", "w", "replica-1", open_detail(REQUEST), now)


def test_a_signed_request_verifies_and_carries_the_open_request_and_holder() -> None:
    found = PeerSigner(KEY).verify("GET", "g", "w", _signed(), NOW + 5)
    assert found.holder_id == "replica-1"
    assert opened(found.detail) == REQUEST


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda h: {}, "no X-Infrax-Replica-Signature"),
        (lambda h: h | {"X-Infrax-Relay-Holder": "replica-2"}, "does not match"),
        (lambda h: h | {"X-Infrax-Relay-Detail": "e30"}, "does not match"),
        (lambda h: h | {"X-Infrax-Replica-Signature": "x.y"}, "too far from now"),
    ],
)
def test_a_request_changed_or_unsigned_is_401(change: object, why: str) -> None:
    headers = change(_signed())  # type: ignore[operator]
    with pytest.raises(ApiError, match=why) as raised:
        PeerSigner(KEY).verify("GET", "g", "w", headers, NOW)
    assert raised.value.status == 401
    assert "INFRAX_SECRET_KEY" in raised.value.message


def test_another_key_another_worker_another_method_or_an_old_signature_is_401() -> None:
    cases = [
        (PeerSigner(bytes(32)), "GET", "w", NOW),
        (PeerSigner(KEY), "GET", "other", NOW),
        (PeerSigner(KEY), "DELETE", "w", NOW),
        (PeerSigner(KEY), "GET", "w", NOW + PEER_SKEW_MS + 1),
    ]
    for signer, method, worker, now in cases:
        with pytest.raises(ApiError) as raised:
            signer.verify(method, "g", worker, _signed(), now)
        assert raised.value.status == 401


def test_a_bad_open_request_is_400_and_answers_round_trip() -> None:
    with pytest.raises(ApiError) as raised:
        opened("not base64 json!")
    assert raised.value.status == 400
    answer = PeerAnswer("refused", 429, "too many sessions")
    assert decode_answer(encode_answer(answer)) == answer
