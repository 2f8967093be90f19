"""Hawk authentication, scopes, temporary credentials, bewits and stored clients, driven with
the official taskcluster client."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path
from urllib.parse import unquote

import aiohttp
import pytest
import requests
import slugid
import taskcluster
import taskcluster.aio
from taskcluster.exceptions import TaskclusterAuthFailure, TaskclusterRestFailure

from tests.conftest import RunningQueue, start_queue, stop_queue
from tests.helpers import task_definition
from tests.postgres import admin


def in_a_year() -> str:
    return taskcluster.stringDate(dt.datetime.now(dt.UTC) + dt.timedelta(days=365))


def make_client(queue: RunningQueue, name: str, scopes: list[str]) -> dict[str, str]:
    auth = taskcluster.Auth(queue.root_options())
    created = auth.createClient(
        name, {"expires": in_a_year(), "description": "test", "scopes": scopes}
    )
    return {"clientId": created["clientId"], "accessToken": created["accessToken"]}


def test_anonymous_callers_read_but_cannot_create(queue: RunningQueue) -> None:
    task_id = slugid.nice()
    taskcluster.Queue(queue.root_options()).createTask(task_id, task_definition())
    anonymous = taskcluster.Queue(queue.options())
    assert anonymous.status(task_id)["status"]["taskId"] == task_id
    with pytest.raises(TaskclusterRestFailure) as info:
        anonymous.createTask(slugid.nice(), task_definition())
    assert info.value.status_code == 403
    assert info.value.body["code"] == "InsufficientScopes"
    assert "queue:create-task:project:none" in info.value.body["message"]


def test_wrong_access_token_is_401_with_www_authenticate(queue: RunningQueue) -> None:
    bad = taskcluster.Queue(queue.options({"clientId": "root", "accessToken": "wrong"}))
    with pytest.raises(TaskclusterAuthFailure) as info:
        bad.createTask(slugid.nice(), task_definition())
    assert info.value.status_code == 401
    assert info.value.body["code"] == "AuthenticationFailed"
    unknown = taskcluster.Queue(queue.options({"clientId": "nobody", "accessToken": "x"}))
    with pytest.raises(TaskclusterAuthFailure) as info:
        unknown.status(slugid.nice())
    assert "nobody" in info.value.body["message"]
    response = requests.get(
        f"{queue.root_url}/api/queue/v1/ping", headers={"Authorization": 'Hawk id="x"'}, timeout=10
    )
    assert response.status_code == 200  # health endpoints take no auth at all


def test_scopes_of_a_stored_client_limit_what_it_may_do(queue: RunningQueue) -> None:
    creds = make_client(
        queue,
        "project/limited",
        ["queue:create-task:project:none", "queue:scheduler-id:-", "queue:create-task:low:prov/*"],
    )
    limited = taskcluster.Queue(queue.options(creds))
    assert (
        limited.createTask(slugid.nice(), task_definition(priority="low"))["status"]["state"]
        == "pending"
    )
    assert limited.createTask(slugid.nice(), task_definition(priority="lowest"))["status"]
    with pytest.raises(TaskclusterRestFailure) as info:
        limited.createTask(slugid.nice(), task_definition(priority="high"))
    assert info.value.status_code == 403
    assert "queue:create-task:high:prov/wt" in info.value.body["message"]
    with pytest.raises(TaskclusterRestFailure) as info:
        limited.createTask(slugid.nice(), task_definition(scopes=["secrets:get:x"]))
    assert "secrets:get:x" in info.value.body["message"]


def test_temporary_credentials_carry_only_their_certificate_scopes(queue: RunningQueue) -> None:
    creds = make_client(queue, "issuer", ["queue:*", "auth:create-client:temp/*"])
    for name in (None, "temp/named"):
        temp = taskcluster.createTemporaryCredentials(
            creds["clientId"],
            creds["accessToken"],
            dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
            dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
            ["queue:status:*", "queue:scheduler-id:-"],
            name=name,
        )
        q = taskcluster.Queue(queue.options(temp))
        with pytest.raises(TaskclusterRestFailure) as info:
            q.createTask(slugid.nice(), task_definition())  # lacks the project scope
        assert "queue:create-task:project:none" in info.value.body["message"]
        scopes = taskcluster.Auth(queue.options(temp)).currentScopes()["scopes"]
        assert "queue:status:*" in scopes and "queue:*" not in scopes
    beyond = taskcluster.createTemporaryCredentials(
        creds["clientId"],
        creds["accessToken"],
        dt.datetime.now(dt.UTC),
        dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        ["secrets:*"],
    )
    with pytest.raises(TaskclusterAuthFailure):
        taskcluster.Queue(queue.options(beyond)).status(slugid.nice())


async def test_async_client_with_temporary_credentials(queue: RunningQueue) -> None:
    temp = taskcluster.createTemporaryCredentials(
        "root",
        queue.root_credentials["accessToken"],
        dt.datetime.now(dt.UTC),
        dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        ["*"],
    )
    async with aiohttp.ClientSession() as session:
        q = taskcluster.aio.Queue(queue.options(temp), session=session)
        task_id = slugid.nice()
        await q.createTask(task_id, task_definition())
        assert (await q.status(task_id))["status"]["state"] == "pending"


def test_authorized_scopes_narrow_the_caller(queue: RunningQueue) -> None:
    options = {**queue.root_options(), "authorizedScopes": ["queue:get-task:*"]}
    narrowed = taskcluster.Queue(options)
    with pytest.raises(TaskclusterRestFailure) as info:
        narrowed.createTask(slugid.nice(), task_definition())
    assert info.value.status_code == 403
    creds = make_client(queue, "small", ["queue:status:*"])
    widened = taskcluster.Queue({**queue.options(creds), "authorizedScopes": ["queue:*"]})
    with pytest.raises(TaskclusterAuthFailure):
        widened.status(slugid.nice())


def test_bewit_signed_urls_authorize_a_get(queue: RunningQueue) -> None:
    auth = taskcluster.Auth(queue.root_options())
    url = auth.buildSignedUrl("listClients")
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.get(url.replace("bewit=", "bewit=x"), timeout=10).status_code == 401
    unsigned = requests.get(f"{queue.root_url}/api/auth/v1/clients/", timeout=10)
    assert unsigned.status_code == 403


def test_client_management_round_trip(queue: RunningQueue) -> None:
    auth = taskcluster.Auth(queue.root_options())
    creds = make_client(queue, "ci/one", ["queue:status:*", "auth:create-client:ci/*"])
    assert auth.client("ci/one")["scopes"] == ["auth:create-client:ci/*", "queue:status:*"]
    listed = [c["clientId"] for c in auth.listClients(query={"prefix": "ci/"})["clients"]]
    assert listed == ["ci/one"]
    mine = taskcluster.Auth(queue.options(creds))
    with pytest.raises(TaskclusterRestFailure) as info:
        mine.createClient("ci/two", {"expires": in_a_year(), "scopes": ["queue:*"]})
    assert info.value.status_code == 403  # may not grant scopes it lacks
    with pytest.raises(TaskclusterRestFailure) as info:
        auth.createClient("ci/one", {"expires": in_a_year()})
    assert info.value.status_code == 409
    reset = auth.resetAccessToken("ci/one")
    assert reset["accessToken"] != creds["accessToken"]
    with pytest.raises(TaskclusterAuthFailure):
        taskcluster.Queue(queue.options(creds)).status(slugid.nice())
    auth.deleteClient("ci/one")
    with pytest.raises(TaskclusterRestFailure) as info:
        auth.client("ci/one")
    assert info.value.status_code == 404


def everything_stored(queue: RunningQueue) -> bytes:
    """Every byte of the SQLite files, or every row of every table of the PostgreSQL schema."""
    url = queue.settings.database_url
    if url is None:
        database = queue.settings.database_path
        return b"".join(p.read_bytes() for p in database.parent.glob("queue.sqlite3*"))
    schema = unquote(url.rpartition("search_path=")[2])
    tables = admin("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
    assert tables
    rows = [
        row[0]
        for (table,) in tables
        for row in admin(f'SELECT t::text FROM "{schema}"."{table}" t')
    ]
    return "\n".join(rows).encode()


def test_access_tokens_are_not_stored_in_the_database(queue: RunningQueue) -> None:
    creds = make_client(queue, "secretive", [])
    stored = everything_stored(queue)
    assert creds["accessToken"].encode() not in stored
    assert b"secretive" in stored


def test_root_credentials_are_generated_with_mode_0600(tmp_path: Path) -> None:
    from tests.conftest import queue_settings

    running, thread = start_queue(queue_settings(tmp_path, root_access_token=None))
    try:
        path = running.settings.data_dir / "root-credentials.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        saved = json.loads(path.read_text())
        q = taskcluster.Queue(running.options(saved))
        assert q.createTask(slugid.nice(), task_definition())["status"]["state"] == "pending"
    finally:
        stop_queue(running, thread)
