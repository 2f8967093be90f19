"""Every endpoint's path reaches that endpoint's handler, whatever order the routes were added
in (queue_server/dispatch.py adds the calls each run makes first)."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from clients.protocol.endpoints import ENDPOINTS, Endpoint
from queue_server.app import create_app
from queue_server.dispatch import FIRST
from queue_server.settings import parse_settings

# A value of each path parameter as clients send it: slashes where the route allows them.
SAMPLES = {
    "taskId": "fN1gGK8HRbWZBZJPOY2V4Q",
    "taskGroupId": "fN1gGK8HRbWZBZJPOY2V4Q",
    "runId": "0",
    "taskQueueId": "prov/type",
    "name": "public/logs/live.log",
    "clientId": "project/ci/client",
    "workerPoolId": "proj%2Fpool",
}


def sample_path(endpoint: Endpoint) -> str:
    route = re.sub(
        r"<([A-Za-z]+)>", lambda m: SAMPLES.get(m.group(1), "some-value"), endpoint.route
    )
    return f"/api/{endpoint.service}/v1{route}"


@pytest.fixture
def app(tmp_path_factory: pytest.TempPathFactory) -> web.Application:
    return create_app(parse_settings(["--data-dir", str(tmp_path_factory.mktemp("data"))]))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
async def test_an_endpoints_path_reaches_its_route(
    app: web.Application, endpoint: Endpoint
) -> None:
    request = make_mocked_request(endpoint.method, sample_path(endpoint), app=app)
    match = await app.router.resolve(request)
    assert match.route.name == endpoint.name


def test_the_routes_added_first_are_endpoints() -> None:
    assert set(FIRST) <= {endpoint.name for endpoint in ENDPOINTS}
