"""A request body is decoded once into its Struct; what a bad body is answered with does not
depend on that (protocol.md, "Errors": MalformedPayload for invalid JSON, InputValidationError
with the `$.path` for JSON that does not fit)."""

from __future__ import annotations

import pytest

from clients.protocol.calls import decode_body, decode_request, request_payload
from clients.protocol.endpoints import by_name
from clients.protocol.errors import ApiError, ErrorCode
from clients.protocol.tasks import ClaimWorkRequest

CLAIM_WORK = by_name("claimWork")
PING = by_name("ping")


def test_a_fitting_body_is_its_struct() -> None:
    body = decode_request(CLAIM_WORK, b'{"workerGroup": "g", "workerId": "w", "tasks": 2}')
    assert body == ClaimWorkRequest(worker_group="g", worker_id="w", tasks=2)


def test_invalid_json_after_a_misfitting_field_is_malformed_payload() -> None:
    # The typed pass stops at `tasks` (a string) before it reaches the syntax error after it.
    with pytest.raises(ApiError) as raised:
        decode_request(CLAIM_WORK, b'{"tasks": "two", "workerGroup": ')
    assert raised.value.code is ErrorCode.malformed_payload


def test_json_that_does_not_fit_names_its_path() -> None:
    with pytest.raises(ApiError) as raised:
        decode_request(CLAIM_WORK, b'{"workerGroup": "g", "workerId": "w", "tasks": "two"}')
    assert raised.value.code is ErrorCode.input_validation_error
    assert "$.tasks" in raised.value.message


def test_a_missing_body_is_malformed_payload() -> None:
    with pytest.raises(ApiError) as raised:
        decode_request(CLAIM_WORK, b"")
    assert raised.value.code is ErrorCode.malformed_payload


def test_the_payload_reported_is_the_plain_json_or_none() -> None:
    raw = b'{"workerGroup": "g", "workerId": "w", "tasks": 2}'
    assert request_payload(CLAIM_WORK, raw) == {"workerGroup": "g", "workerId": "w", "tasks": 2}
    assert request_payload(CLAIM_WORK, b"{not json") is None
    assert request_payload(PING, raw) is None  # an endpoint without a body reports none
    assert decode_body(CLAIM_WORK, raw) == (
        {"workerGroup": "g", "workerId": "w", "tasks": 2},
        ClaimWorkRequest(worker_group="g", worker_id="w", tasks=2),
    )
