"""The scheduler end to end: `infrax queue` and `infrax scheduler` as processes, used through
the official Taskcluster clients (protocol.md, "Hooks")."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import slugid
import taskcluster
from taskcluster.exceptions import (
    TaskclusterAuthFailure,
    TaskclusterRestFailure,
)

from tests.e2e.scheduler_system import (
    ROOT,
    System,
    hook_definition,
    running_system,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("scheduler-system")) as running:
        yield running


def fires(system: System, group: str, hook_id: str) -> list[dict[str, Any]]:
    try:
        return list(system.hooks().listLastFires(group, hook_id)["lastFires"])
    except TaskclusterRestFailure as error:
        if error.status_code == 404:
            return []
        raise


def test_the_official_hooks_client_manages_and_triggers_a_hook(system: System) -> None:
    hooks, queue = system.hooks(), system.queue()
    created = hooks.createHook("ci", "docs/build", hook_definition())
    assert created["hookId"] == "docs/build"
    assert created["metadata"]["emailOnError"] is True
    assert created["schedule"] == [] and created["bindings"] == []
    assert hooks.createHook("ci", "docs/build", hook_definition()) == created  # idempotent
    with pytest.raises(TaskclusterRestFailure) as conflict:
        hooks.createHook("ci", "docs/build", hook_definition(schedule=["0 0 * * *"]))
    assert conflict.value.status_code == 409
    assert "ci" in hooks.listHookGroups()["groups"]
    assert [h["hookId"] for h in hooks.listHooks("ci")["hooks"]] == ["docs/build"]
    assert hooks.hook("ci", "docs/build") == created

    fired = hooks.triggerHook("ci", "docs/build", {"branch": "main"})
    task_id = fired["taskId"]
    assert fired["status"] == {"taskId": task_id}
    task = queue.task(task_id)
    assert task["taskGroupId"] == task_id  # a hook task is its own group by default
    assert task["payload"]["firedBy"] == "triggerHook"
    assert task["payload"]["given"] == {"branch": "main"}
    [record] = hooks.listLastFires("ci", "docs/build")["lastFires"]
    assert record["taskId"] == task_id and record["result"] == "success"
    assert record["firedBy"] == "triggerHook" and record["taskState"] == "pending"
    status = hooks.getHookStatus("ci", "docs/build")
    assert status["lastFire"]["result"] == "success"
    assert status["lastFire"]["taskId"] == task_id

    updated = hooks.updateHook("ci", "docs/build", hook_definition(schedule=["0 0 * * *"]))
    assert updated["schedule"] == ["0 0 * * *"]
    assert "nextScheduledDate" in hooks.getHookStatus("ci", "docs/build")
    assert hooks.removeHook("ci", "docs/build") == {}
    assert hooks.removeHook("ci", "docs/build") == {}  # unknown hooks too: 200 {}
    with pytest.raises(TaskclusterRestFailure) as gone:
        hooks.hook("ci", "docs/build")
    assert gone.value.status_code == 404


def test_scopes_and_the_hook_role_limit_what_a_hook_may_do(system: System) -> None:
    auth = taskcluster.Auth({"rootUrl": system.root_url, "credentials": ROOT})
    made = auth.createClient(
        "ci/triggerer",
        {
            "expires": taskcluster.stringDate(taskcluster.fromNow("1 hour")),
            "description": "may trigger one hook",
            "scopes": ["hooks:trigger-hook:ci/limited"],
        },
    )
    limited = system.hooks({"clientId": made["clientId"], "accessToken": made["accessToken"]})
    with pytest.raises(TaskclusterRestFailure) as refused:
        limited.createHook("ci", "limited", hook_definition())
    assert refused.value.status_code == 403
    assert "hooks:modify-hook:ci/limited" in str(refused.value)
    with pytest.raises(TaskclusterAuthFailure):
        system.hooks({"clientId": made["clientId"], "accessToken": "wrong"}).triggerHook(
            "ci", "limited", {}
        )

    # The role hook-id:ci/* allows test/hooks only: another queue is refused by the queue.
    elsewhere = hook_definition()
    elsewhere["task"]["taskQueueId"] = "test/elsewhere"
    system.hooks().createHook("ci", "limited", elsewhere)
    with pytest.raises(TaskclusterRestFailure) as escalation:
        limited.triggerHook("ci", "limited", {})
    assert escalation.value.status_code == 403
    assert "The role `hook-id:ci/limited` does not have sufficient scopes" in str(escalation.value)
    [record] = fires(system, "ci", "limited")
    assert record["result"] == "error" and "InsufficientScopes" in record["error"]
    assert record["taskState"] == "unknown"


def test_a_webhook_fires_with_its_token_and_not_without(system: System) -> None:
    hooks = system.hooks()
    hooks.createHook("ci", "webhook", hook_definition())
    token = hooks.getTriggerToken("ci", "webhook")["token"]
    anonymous = system.hooks(credentials=None)
    fired = anonymous.triggerHookWithToken("ci", "webhook", token, {"from": "outside"})
    assert system.queue().task(fired["taskId"])["payload"]["firedBy"] == "triggerHookWithToken"
    with pytest.raises(TaskclusterAuthFailure):
        anonymous.triggerHookWithToken("ci", "webhook", token[:-2] + "xx", {})
    new = hooks.resetTriggerToken("ci", "webhook")["token"]
    assert new != token
    with pytest.raises(TaskclusterAuthFailure):
        anonymous.triggerHookWithToken("ci", "webhook", token, {})
    anonymous.triggerHookWithToken("ci", "webhook", new, {})
    assert [f["firedBy"] for f in fires(system, "ci", "webhook")] == ["triggerHookWithToken"] * 2


def _deliver(
    system: System, hook_id: str, event: str, body: bytes, signature: str | None
) -> tuple[int, dict[str, Any]]:
    url = f"{system.hooks_url}/api/hooks/v1/hooks/ci/{hook_id}/github"
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event}
    headers["X-GitHub-Delivery"] = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signed_github_pushes_fire_and_forged_ones_do_not(system: System) -> None:
    hooks = system.hooks()
    hooks.createHook("ci", "github", hook_definition())
    secret = hooks.getTriggerToken("ci", "github")["token"]
    push = {
        "ref": "refs/heads/main",
        "after": "a" * 40,
        "repository": {"full_name": "example/repo"},
        "head_commit": {"message": "Fix the build"},
    }
    body = json.dumps(push).encode()
    status, answer = _deliver(system, "github", "push", body, _sign(secret, body))
    assert status == 200, answer
    payload = system.queue().task(answer["taskId"])["payload"]["given"]
    assert payload["tasks_for"] == "github-push" and payload["branch"] == "main"
    assert payload["sha"] == "a" * 40 and payload["event"] == push

    forged, refusal = _deliver(system, "github", "push", body, _sign("not-the-secret", body))
    assert forged == 403 and "X-Hub-Signature-256 does not match" in refusal["message"]
    unsigned, _ = _deliver(system, "github", "push", body, None)
    assert unsigned == 400
    tampered = body.replace(b"main", b"evil")
    assert _deliver(system, "github", "push", tampered, _sign(secret, body))[0] == 403

    pr = {
        "action": "opened",
        "number": 7,
        "pull_request": {"title": "Add a test", "head": {"sha": "b" * 40, "ref": "topic"}},
        "repository": {"full_name": "example/repo"},
    }
    pr_body = json.dumps(pr).encode()
    status, answer = _deliver(system, "github", "pull_request", pr_body, _sign(secret, pr_body))
    assert status == 200
    given = system.queue().task(answer["taskId"])["payload"]["given"]
    assert given["tasks_for"] == "github-pull-request" and given["action"] == "opened"

    skip = json.dumps({**push, "head_commit": {"message": "Docs [skip ci]"}}).encode()
    status, answer = _deliver(system, "github", "push", skip, _sign(secret, skip))
    assert status == 200 and "taskId" not in answer
    ping = b'{"zen": "Keep it logically awesome."}'
    assert _deliver(system, "github", "ping", ping, _sign(secret, ping))[1]["message"] == "pong"
    assert len(fires(system, "ci", "github")) == 2  # the push and the pull request only


def test_json_e_errors_are_recorded_and_crash_nothing(system: System) -> None:
    hooks = system.hooks()
    hooks.createHook("ci", "broken", hook_definition(task={"$eval": "no_such_value"}))
    with pytest.raises(TaskclusterRestFailure) as failed:
        hooks.triggerHook("ci", "broken", {})
    assert failed.value.status_code == 400
    assert "While firing hook" in str(failed.value)
    [record] = fires(system, "ci", "broken")
    assert record["result"] == "error" and "no_such_value" in record["error"]
    assert hooks.getHookStatus("ci", "broken")["lastFire"]["result"] == "error"

    # A broken scheduled template fails every second without stopping anything else.
    hooks.createHook(
        "ci", "broken-cron", hook_definition(schedule=["* * * * * *"], task={"$eval": "x["})
    )
    wait_for(lambda: fires(system, "ci", "broken-cron") or None, what="a failed cron fire")
    assert fires(system, "ci", "broken-cron")[0]["result"] == "error"
    hooks.createHook("ci", "healthy", hook_definition())
    assert "taskId" in hooks.triggerHook("ci", "healthy", {})
    hooks.removeHook("ci", "broken-cron")


def test_a_null_render_creates_nothing_and_is_not_recorded(system: System) -> None:
    hooks = system.hooks()
    template = {"$if": "payload.go", "then": hook_definition()["task"]}
    hooks.createHook("ci", "maybe", hook_definition(task=template))
    assert hooks.triggerHook("ci", "maybe", {"go": False}) == {}
    assert fires(system, "ci", "maybe") == []
    assert "taskId" in hooks.triggerHook("ci", "maybe", {"go": True})


def test_trigger_schema_and_task_id_are_checked(system: System) -> None:
    hooks = system.hooks()
    strict = hook_definition(
        triggerSchema={
            "type": "object",
            "properties": {"taskId": {"type": "string"}, "n": {"type": "integer"}},
            "additionalProperties": False,
        }
    )
    hooks.createHook("ci", "strict", strict)
    with pytest.raises(TaskclusterRestFailure) as refused:
        hooks.triggerHook("ci", "strict", {"n": "one"})
    assert refused.value.status_code == 400 and "$.n" in str(refused.value)
    chosen = slugid.nice()
    assert hooks.triggerHook("ci", "strict", {"taskId": chosen})["taskId"] == chosen
    with pytest.raises(TaskclusterRestFailure):
        hooks.triggerHook("ci", "strict", {"taskId": "not a slug"})
    with pytest.raises(TaskclusterRestFailure) as bad_cron:
        hooks.createHook("ci", "bad-cron", hook_definition(schedule=["every minute"]))
    assert bad_cron.value.status_code == 400 and "every minute" in str(bad_cron.value)


def test_a_cron_hook_fires_every_tick_once_with_two_schedulers(
    system: System, tmp_path: Path
) -> None:
    """Two scheduler processes share one data directory; each tick fires exactly once."""
    shared = tmp_path / "shared-scheduler"
    first = system.start_scheduler(shared)
    second = system.start_scheduler(shared)
    hooks = system.hooks(url=first)
    hooks.createHook("ci", "cron", hook_definition(schedule=["* * * * * *"]))

    def enough() -> list[dict[str, Any]] | None:
        found = system.hooks(url=second).listLastFires("ci", "cron")["lastFires"]
        return found if len(found) >= 4 else None

    records = wait_for(lambda: _or_none(enough), what="four scheduled fires")
    hooks.removeHook("ci", "cron")
    system.stop_scheduler(-1)
    system.stop_scheduler(-1)
    assert all(r["firedBy"] == "schedule" and r["result"] == "success" for r in records)
    task_ids = [r["taskId"] for r in records]
    assert len(set(task_ids)) == len(task_ids), "a tick fired twice"
    seconds = [r["taskCreateTime"][:19] for r in records]
    assert len(set(seconds)) == len(seconds), "two fires in the same second"
    queue = system.queue()
    for task_id in task_ids:
        assert queue.task(task_id)["payload"]["firedBy"] == "schedule"


def _or_none(probe: Any) -> Any:
    try:
        return probe()
    except TaskclusterRestFailure:
        return None


def test_an_exchange_binding_fires_when_a_task_completes(system: System) -> None:
    hooks, queue = system.hooks(), system.queue()
    template = hook_definition()["task"]
    template["payload"] = {"after": {"$eval": "payload.status.taskId"}, "by": {"$eval": "firedBy"}}
    hooks.createHook(
        "ci",
        "on-complete",
        hook_definition(
            task=template,
            bindings=[
                {
                    "exchange": "exchange/taskcluster-queue/v1/task-completed",
                    "routingKeyPattern": "primary.*.*.*.*.test.upstream.#",
                }
            ],
        ),
    )
    upstream = slugid.nice()
    other = slugid.nice()
    # The other queue's completion comes first: had it matched, it would be recorded first.
    for task_id, task_queue in ((other, "test/other"), (upstream, "test/upstream")):
        queue.createTask(task_id, hook_definition()["task"] | _concrete(task_queue))
        [claim] = queue.claimWork(task_queue, {"workerGroup": "g", "workerId": "w", "tasks": 1})[
            "tasks"
        ]
        assert claim["status"]["taskId"] == task_id
        queue.reportCompleted(task_id, 0)
    [record] = wait_for(
        lambda: fires(system, "ci", "on-complete") or None, what="the binding to fire"
    )
    assert record["firedBy"] == "pulseMessage" and record["result"] == "success"
    assert queue.task(record["taskId"])["payload"] == {"after": upstream, "by": "pulseMessage"}


def _concrete(task_queue: str) -> dict[str, Any]:
    return {
        "taskQueueId": task_queue,
        "payload": {},
        "created": taskcluster.stringDate(taskcluster.fromNow("0 seconds")),
        "deadline": taskcluster.stringDate(taskcluster.fromNow("1 hour")),
    }
