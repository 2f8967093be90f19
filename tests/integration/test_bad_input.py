"""Bad input gets a clear 4xx with Taskcluster's error body; never a 500, never a hang."""

from __future__ import annotations

import re
import time

import pytest
import requests

from clients import hawk
from clients.protocol.endpoints import ENDPOINTS, Endpoint
from tests.conftest import RunningQueue


@pytest.fixture
def queue_overrides() -> dict[str, object]:
    return {"max_body_bytes": 64 * 1024, "claim_wait_s": 0.2}


def signed(
    queue: RunningQueue, method: str, url: str, body: bytes = b"", content_type: str = ""
) -> dict[str, str]:
    creds = hawk.Credentials("root", queue.root_credentials["accessToken"])
    header = hawk.sign_header(
        creds, method, url, content_type=content_type, body=body, now=time.time()
    )
    headers = {"Authorization": header}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def send(
    queue: RunningQueue,
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "application/json",
) -> requests.Response:
    url = f"{queue.root_url}{path}"
    ctype = content_type if body else ""
    return requests.request(
        method, url, data=body or None, headers=signed(queue, method, url, body, ctype), timeout=30
    )


def assert_error_body(response: requests.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert set(body) == {"code", "message", "requestInfo"}
    assert {"method", "params", "payload", "time"} <= set(body["requestInfo"])
    return body  # type: ignore[no-any-return]


def test_malformed_json_is_400_malformed_payload(queue: RunningQueue) -> None:
    response = send(queue, "PUT", "/api/queue/v1/task/fN1gGK8HRbWZBZJPOY2V4Q", b"{not json")
    assert_error_body(response, 400, "MalformedPayload")


def test_oversized_body_is_refused_413(queue: RunningQueue) -> None:
    body = b'{"x":"' + b"a" * (128 * 1024) + b'"}'
    response = send(queue, "PUT", "/api/queue/v1/task/fN1gGK8HRbWZBZJPOY2V4Q", body)
    assert_error_body(response, 413, "InputTooLarge")


def test_unknown_route_is_404_json(queue: RunningQueue) -> None:
    response = requests.get(f"{queue.root_url}/api/queue/v1/nothing-here", timeout=10)
    assert_error_body(response, 404, "ResourceNotFound")


def test_wrong_method_is_405_json(queue: RunningQueue) -> None:
    response = requests.delete(f"{queue.root_url}/api/queue/v1/ping", timeout=10)
    assert_error_body(response, 405, "MethodNotAllowed")


def test_schema_error_names_the_json_path(queue: RunningQueue) -> None:
    response = send(
        queue,
        "POST",
        "/api/queue/v1/claim-work/p%2Fw",
        b'{"workerGroup":"g","workerId":"w","tasks":99}',
    )
    body = assert_error_body(response, 400, "InputValidationError")
    assert "$.tasks" in str(body["message"])


SAMPLE = {
    "taskId": "fN1gGK8HRbWZBZJPOY2V4Q",
    "taskGroupId": "fN1gGK8HRbWZBZJPOY2V4Q",
    "runId": "0",
    "taskQueueId": "p%2Fw",
    "provisionerId": "p",
    "workerType": "w",
    "workerGroup": "g",
    "workerId": "w",
    "clientId": "someone",
    "name": "public%2Fbuild%2Fx.log",
    "secret": "s3cret",
}
GARBAGE = {
    "taskId": "%00%ff",
    "taskGroupId": "x" * 300,
    "runId": "-1",
    "taskQueueId": "a%2Fb%2Fc",
    "provisionerId": "%20",
    "workerType": "UPPER",
    "workerGroup": "a.b",
    "workerId": "%2F%2F",
    "clientId": "%0A",
    "name": "..%2F%00%7F",
    "secret": "%00%2F..",
}
BODIES = [
    b"",
    b"null",
    b"[]",
    b'{"a":1}',
    b'"text"',
    b"1e999",
    b'{"taskIds":[1,2]}',
    "\u2603".encode(),
]


def path_of(endpoint: Endpoint, values: dict[str, str]) -> str:
    route = re.sub(r"<([A-Za-z]+)>", lambda m: values[m.group(1)], endpoint.route)
    return f"/api/{endpoint.service}/v1{route}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_no_input_makes_any_endpoint_answer_500(queue: RunningQueue, endpoint: Endpoint) -> None:
    for values in (SAMPLE, GARBAGE):
        for body in BODIES:
            response = send(queue, endpoint.method, path_of(endpoint, values), body)
            assert response.status_code < 500, (
                endpoint.name,
                values is GARBAGE,
                body,
                response.text,
            )
            if response.status_code >= 400:
                assert response.json()["code"], response.text
    for query in ("limit=abc", "continuationToken=%%%", "limit=5000", "quarantined=maybe"):
        response = send(queue, endpoint.method, path_of(endpoint, SAMPLE) + "?" + query)
        assert response.status_code < 500, (endpoint.name, query, response.text)


def test_continuation_token_of_the_wrong_shape_is_400(queue: RunningQueue) -> None:
    token = "WzFd"  # base64 of [1]: a JSON array, but not a pending-list key
    response = send(
        queue, "GET", f"/api/queue/v1/task-queues/p%2Fw/pending?continuationToken={token}"
    )
    assert_error_body(response, 400, "InvalidRequestArguments")


def test_identifier_with_a_trailing_newline_is_400(queue: RunningQueue) -> None:
    response = send(queue, "GET", "/api/queue/v1/task/fN1gGK8HRbWZBZJPOY2V4Q%0A/status")
    assert_error_body(response, 400, "InvalidRequestArguments")
    body = b'{"workerGroup":"g\\n","workerId":"w"}'
    response = send(queue, "POST", "/api/queue/v1/claim-work/p%2Fw", body)
    assert_error_body(response, 400, "InputValidationError")
