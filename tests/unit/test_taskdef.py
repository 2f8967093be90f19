"""From a createTask request to the stored definition: defaults and time rules."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from clients.protocol.errors import ApiError
from clients.protocol.states import Priority
from clients.protocol.tasks import CreateTaskRequest
from clients.protocol.times import format_ms, parse_time
from queue_server.core.pages import decode_token, encode_token, page_from_query
from queue_server.core.taskdef import creator_priorities, normalize_task

NOW = parse_time("2024-05-01T12:00:00.000Z")
MINUTE = 60_000
DAY = 86_400_000


def request(**fields: Any) -> CreateTaskRequest:
    body: dict[str, Any] = {
        "taskQueueId": "p/w",
        "created": format_ms(NOW),
        "deadline": format_ms(NOW + 60 * MINUTE),
        "payload": {},
        "metadata": {"name": "n", "description": "d", "owner": "o", "source": "https://x"},
    }
    body.update(fields)
    return msgspec.json.decode(msgspec.json.encode(body), type=CreateTaskRequest)


def normalize(**fields: Any) -> Any:
    return normalize_task(
        "fN1gGK8HRbWZBZJPOY2V4Q", request(**fields), now_ms=NOW, max_deadline_ms=5 * DAY
    )


def test_times_are_normalised_to_milliseconds_and_expires_defaults_to_a_year() -> None:
    task, times = normalize(
        created="2024-05-01T12:00:00.123456Z", deadline="2024-05-01T13:00:00+00:00"
    )
    assert task.created == "2024-05-01T12:00:00.123Z"
    assert task.deadline == "2024-05-01T13:00:00.000Z"
    assert times.expires - times.deadline == 365 * DAY


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"created": format_ms(NOW - 16 * MINUTE)}, "`created`"),
        ({"created": format_ms(NOW + 16 * MINUTE)}, "`created`"),
        ({"deadline": format_ms(NOW - MINUTE), "created": format_ms(NOW - 2 * MINUTE)}, "past"),
        ({"deadline": format_ms(NOW + 5 * DAY + 16 * MINUTE)}, "5 days"),
        ({"expires": format_ms(NOW + MINUTE)}, "`expires`"),
        ({"created": "yesterday"}, "not a valid date-time"),
        ({"scopes": ["queue:**"]}, "**"),
        ({"dependencies": ["fN1gGK8HRbWZBZJPOY2V4Q"] * 2}, "unique"),
        ({"taskQueueId": "no-slash"}, "provisionerId/workerType"),
        ({"taskQueueId": "p/w", "workerType": "other"}, "must equal"),
    ],
)
def test_invalid_definitions_are_input_errors(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ApiError) as info:
        normalize(**fields)
    assert info.value.status == 400
    assert words in info.value.message


def test_created_within_fifteen_minutes_is_accepted() -> None:
    task, _ = normalize(created=format_ms(NOW - 14 * MINUTE))
    assert task.created == format_ms(NOW - 14 * MINUTE)


def test_holding_a_higher_priority_scope_allows_creating_lower() -> None:
    assert creator_priorities(Priority.high) == ["highest", "very-high", "high"]


def test_continuation_tokens_round_trip_and_garbage_is_rejected() -> None:
    assert decode_token(encode_token([3, "abc"])) == [3, "abc"]
    with pytest.raises(ApiError) as info:
        decode_token("!!!")
    assert info.value.status == 400
    assert page_from_query({"limit": "7"}).limit == 7
    with pytest.raises(ApiError):
        page_from_query({"limit": "1001"})
