"""The typed client covers the endpoint table: a method per endpoint, typed by the table.

When an endpoint (or a whole service) is added to clients/protocol/endpoints.py, these tests
fail until the client has its method: add it to the service's client class (and a new service's
class to clients.client.SERVICE_CLIENTS).
"""

from __future__ import annotations

import inspect
import re
import typing

import msgspec
import pytest

from clients import hawk
from clients.client import (
    SERVICE_CLIENTS,
    ApiCallError,
    ClientError,
    ConfigurationError,
    InputError,
    Options,
    Queue,
    RequestConflict,
    ResourceNotFound,
    ServerError,
    credentials_from_env,
    credentials_of,
)
from clients.client.errors import error_from_answer
from clients.protocol.endpoints import ENDPOINTS as QUEUE_ENDPOINTS
from clients.protocol.endpoints import Endpoint
from clients.protocol.tasks import TaskCredentials
from clients.protocol.worker_manager_endpoints import WORKER_MANAGER_ENDPOINTS

# Every table that has a client (the Hooks table has none yet).
ENDPOINTS = QUEUE_ENDPOINTS + WORKER_MANAGER_ENDPOINTS


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _id(endpoint: Endpoint) -> str:
    return f"{endpoint.service}.{endpoint.name}"


def test_every_service_of_the_table_has_a_client_class() -> None:
    services = {endpoint.service for endpoint in ENDPOINTS}
    assert services <= set(SERVICE_CLIENTS), services - set(SERVICE_CLIENTS)
    for service, kind in SERVICE_CLIENTS.items():
        assert kind.service == service


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_every_endpoint_has_a_method_returning_its_response_type(endpoint: Endpoint) -> None:
    kind = SERVICE_CLIENTS[endpoint.service]
    method = getattr(kind, snake(endpoint.name), None)
    assert method is not None, f"{kind.__name__} lacks {snake(endpoint.name)}()"
    assert method.__doc__, "public client methods have docstrings"
    if endpoint.websocket:  # a stream object to open with `async with` and iterate
        returned = typing.get_type_hints(method)["return"]
        assert hasattr(returned, "__aenter__") and hasattr(returned, "__anext__")
        return
    assert inspect.iscoroutinefunction(method)
    hints = typing.get_type_hints(method)
    assert hints["return"] == (type(None) if endpoint.output is None else endpoint.output)
    assert method.__doc__, "public client methods have docstrings"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_route_parameters_come_first_and_query_parameters_are_keywords(endpoint: Endpoint) -> None:
    method = getattr(SERVICE_CLIENTS[endpoint.service], snake(endpoint.name))
    parameters = list(inspect.signature(method).parameters.values())[1:]
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional[: len(endpoint.params)] == [snake(p) for p in endpoint.params]
    keywords = {p.name for p in parameters if p.kind is p.KEYWORD_ONLY}
    assert {snake(q) for q in endpoint.query} <= keywords


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if "continuationToken" in e.query], ids=_id
)
def test_every_paginated_endpoint_has_an_iterator(endpoint: Endpoint) -> None:
    kind = SERVICE_CLIENTS[endpoint.service]
    iterator = getattr(kind, "iter_" + snake(endpoint.name), None)
    assert iterator is not None, f"{kind.__name__} lacks iter_{snake(endpoint.name)}()"
    assert typing.get_origin(typing.get_type_hints(iterator)["return"]).__name__ == "AsyncIterator"


def test_urls_percent_encode_every_path_parameter_and_drop_empty_query_values() -> None:
    queue = Queue(Options("http://127.0.0.1:1/"))
    assert (
        queue.url("claimWork", {"taskQueueId": "prov/wt"})
        == "http://127.0.0.1:1/api/queue/v1/claim-work/prov%2Fwt"
    )
    url = queue.url("listWorkers", {"provisionerId": "p", "workerType": "w"}, {
        "limit": 2, "continuationToken": None, "quarantined": True,
    })  # fmt: skip
    assert url.endswith("/provisioners/p/worker-types/w/workers?limit=2&quarantined=true")
    with pytest.raises(ClientError, match="auth service"):
        queue.url("listClients")


def test_options_come_from_the_taskcluster_variables() -> None:
    env = {
        "TASKCLUSTER_ROOT_URL": "http://example.test/",
        "TASKCLUSTER_CLIENT_ID": "me",
        "TASKCLUSTER_ACCESS_TOKEN": "secret",
        "TASKCLUSTER_CERTIFICATE": '{"version":1}',
    }
    options = Options.from_env(env)
    assert options.root_url == "http://example.test"
    assert options.credentials == hawk.Credentials("me", "secret", '{"version":1}')
    assert "secret" not in repr(options)
    assert Options.from_env({"TASKCLUSTER_ROOT_URL": "http://x"}).credentials is None
    assert Options.from_env(env, root_url="http://other").root_url == "http://other"


def test_missing_or_half_configuration_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="TASKCLUSTER_ROOT_URL"):
        Options.from_env({})
    with pytest.raises(ConfigurationError, match="both"):
        credentials_from_env({"TASKCLUSTER_CLIENT_ID": "me"})
    with pytest.raises(ConfigurationError, match="http"):
        Options("127.0.0.1:8080")


def test_claim_credentials_become_signing_credentials() -> None:
    given = TaskCredentials(client_id="task-client/x", access_token="t", certificate="{}")
    assert credentials_of(given) == hawk.Credentials("task-client/x", "t", "{}")


def test_error_answers_become_typed_errors_with_the_servers_code_and_message() -> None:
    body = {"code": "ResourceNotFound", "message": "no task `x`\n\n---\n\n* method: status"}
    error = error_from_answer("status", 404, msgspec.json.encode(body))
    assert isinstance(error, ResourceNotFound)
    assert (error.status, error.code, error.explanation) == (404, "ResourceNotFound", "no task `x`")
    assert str(error) == "status: 404 ResourceNotFound: no task `x`"
    assert isinstance(error_from_answer("x", 409, b"{}"), RequestConflict)
    assert isinstance(error_from_answer("x", 400, b"{}"), InputError)
    assert isinstance(error_from_answer("x", 502, b"<html>bad gateway</html>"), ServerError)
    odd = error_from_answer("x", 418, b"not json")
    assert type(odd) is ApiCallError
    assert odd.message == "not json"
