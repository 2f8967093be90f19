"""authenticateHawk and the roles file: how other services verify callers (protocol.md §8)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import taskcluster

from clients import hawk
from queue_server.roles import RolesFileError, load_roles
from tests.conftest import ROOT_TOKEN, RunningQueue


@pytest.fixture
def queue_overrides(tmp_path: Path) -> dict[str, object]:
    roles = tmp_path / "roles.yml"
    roles.write_text("hook-id:ci/*:\n  - queue:create-task:lowest:ci/build\n")
    return {"roles_file": roles}


def _ask(queue: RunningQueue, body: dict[str, object]) -> dict[str, object]:
    auth = taskcluster.Auth(queue.options())
    return dict(auth.authenticateHawk(body))


def test_a_signed_request_is_answered_with_expanded_scopes_and_the_payload_hash(
    queue: RunningQueue,
) -> None:
    url = "https://hooks.example.com/api/hooks/v1/hooks/ci/x/trigger"
    creds = hawk.Credentials("root", ROOT_TOKEN)
    header = hawk.sign_header(
        creds,
        "POST",
        url,
        content_type="application/json",
        body=b"{}",
        now=time.time(),
        authorized_scopes=["assume:hook-id:ci/x"],
    )
    facts = {"method": "post", "resource": "/api/hooks/v1/hooks/ci/x/trigger"}
    answer = _ask(
        queue, {**facts, "host": "hooks.example.com", "port": 443, "authorization": header}
    )
    assert answer["status"] == "auth-success" and answer["clientId"] == "root"
    # authorizedScopes replaced root's `*`; the role file expanded the hook role.
    assert "queue:create-task:lowest:ci/build" in answer["scopes"]  # type: ignore[operator]
    assert "*" not in answer["scopes"]  # type: ignore[operator]
    assert answer["hash"] == hawk.payload_hash("application/json", b"{}")

    moved = _ask(queue, {**facts, "host": "evil.example.com", "port": 443, "authorization": header})
    assert moved["status"] == "auth-failed" and "MAC" in str(moved["message"])
    nobody = _ask(queue, {**facts, "host": "hooks.example.com", "port": 443})
    assert nobody["status"] == "no-auth"
    assert "queue:get-task:*" in nobody["scopes"]  # type: ignore[operator]


def test_bad_roles_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "roles.yml"
    path.write_text("- not a mapping\n")
    with pytest.raises(RolesFileError, match="mapping"):
        load_roles(path)
    path.write_text("anonymous: [x]\n")
    with pytest.raises(RolesFileError, match="not a usable roleId"):
        load_roles(path)
    path.write_text("a: [1]\n")
    with pytest.raises(RolesFileError, match="printable"):
        load_roles(path)
    assert load_roles(None) == {}
