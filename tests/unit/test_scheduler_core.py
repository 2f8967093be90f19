"""The scheduler's pure core: cron ticks, rendering, trigger schemas, GitHub deliveries."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from clients.protocol.errors import input_error
from clients.protocol.times import parse_time
from scheduler.core.cron import ScheduleError, check_schedule, next_tick
from scheduler.core.fires import MAX_ERROR_CHARS, error_record
from scheduler.core.github import SignatureError, delivery_payload, verify_signature
from scheduler.core.templates import (
    RenderError,
    TriggerSchemaError,
    check_trigger_schema,
    fill_defaults,
    render_context,
    render_task,
    validate_payload,
)

T0 = parse_time("2024-05-01T12:00:00.000Z")


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["* * * * *"], "2024-05-01T12:01:00.000Z"),
        (["*/10 * * * * *"], "2024-05-01T12:00:10.000Z"),  # 6 fields: leading seconds
        (["0 0 1 * * *"], "2024-05-02T01:00:00.000Z"),  # Taskcluster's daily at 01:00
        (["0 13 * * *", "30 12 * * *"], "2024-05-01T12:30:00.000Z"),  # a union
    ],
)
def test_next_tick_is_the_earliest_over_the_patterns(patterns: list[str], expected: str) -> None:
    assert next_tick(patterns, T0) == parse_time(expected)


def test_no_schedule_has_no_tick_and_bad_patterns_are_named() -> None:
    assert next_tick([], T0) is None
    with pytest.raises(ScheduleError, match="in 61 \\* \\* \\* \\*"):
        check_schedule(["* * * * *", "61 * * * *"])
    with pytest.raises(ScheduleError, match="5 or 6 fields"):
        check_schedule(["* *"])


def test_render_fills_taskcluster_defaults_and_now_drives_from_now() -> None:
    context = render_context("triggerHook", "tid", T0, {"n": 2}, "me")
    task = render_task(
        {"deadline": {"$fromNow": "2 hours"}, "n": {"$eval": "payload.n + 1"}, "by": "${clientId}"},
        context,
    )
    assert task == {"deadline": "2024-05-01T14:00:00.000Z", "n": 3, "by": "me"}
    filled = fill_defaults(task, "tid", T0)
    assert filled["created"] == "2024-05-01T12:00:00.000Z"
    assert filled["expires"] == "2024-06-01T12:00:00.000Z"
    assert filled["taskGroupId"] == "tid" and filled["deadline"] == task["deadline"]
    assert fill_defaults({"taskGroupId": "g"}, "tid", T0)["taskGroupId"] == "g"


def test_render_errors_and_null_renders() -> None:
    context = render_context("schedule", "tid", T0, {})
    assert render_task({"$if": "false", "then": {}}, context) is None
    with pytest.raises(RenderError, match="unknown"):
        render_task({"a": {"$eval": "unknown_name"}}, context)
    with pytest.raises(RenderError, match="not an object"):
        render_task({"$eval": "[1, 2]"}, context)


def test_trigger_schemas_are_checked_and_enforced() -> None:
    with pytest.raises(TriggerSchemaError, match="not a valid JSON schema"):
        check_trigger_schema({"type": "no-such-type"})
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    validate_payload(schema, {"n": 1})
    with pytest.raises(TriggerSchemaError, match=r"\$\.n: 'x' is not of type 'integer'"):
        validate_payload(schema, {"n": "x"})
    with pytest.raises(TriggerSchemaError):
        validate_payload({"type": "object", "additionalProperties": False}, {"any": 1})


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_signatures_are_checked_over_the_raw_body() -> None:
    body = b'{"a": 1}'
    verify_signature("s3cret", body, _sign("s3cret", body), None)
    legacy = "sha1=" + hmac.new(b"s3cret", body, hashlib.sha1).hexdigest()
    verify_signature("s3cret", body, None, legacy)
    for bad in (_sign("other", body), _sign("s3cret", b'{"a":1}')):
        with pytest.raises(SignatureError) as forged:
            verify_signature("s3cret", body, bad, None)
        assert forged.value.status == 403
    with pytest.raises(SignatureError) as missing:
        verify_signature("s3cret", body, None, None)
    assert missing.value.status == 400


def test_github_events_map_to_payloads_or_acknowledgements() -> None:
    push = {"ref": "refs/tags/v1", "after": "abc", "head_commit": {"message": "release"}}
    fired = delivery_payload("push", "d1", push)
    assert fired.payload is not None
    assert fired.payload["tag"] == "v1" and fired.payload["tasks_for"] == "github-push"
    skipped = delivery_payload("push", "d2", {**push, "head_commit": {"message": "x [CI SKIP]"}})
    assert skipped.payload is None and "skip" in skipped.message
    assert delivery_payload("push", "d3", {**push, "deleted": True}).payload is None
    assert delivery_payload("ping", "d4", {}).message == "pong"
    assert delivery_payload("issues", "d5", {}).payload is None
    pr = {
        "action": "synchronize",
        "number": 3,
        "pull_request": {"title": "t", "head": {"sha": "s"}},
    }
    payload = delivery_payload("pull_request", "d6", pr).payload
    assert payload is not None and payload["action"] == "synchronize"
    assert payload["pullRequestNumber"] == 3 and payload["sha"] == "s"


def test_error_records_are_json_and_bounded() -> None:
    record = error_record(input_error("x" * (2 * MAX_ERROR_CHARS)))
    assert len(record) == MAX_ERROR_CHARS and record.startswith('{\n  "name": "InputError"')
