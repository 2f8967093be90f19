"""What `infrax submit`, `watch` and `group` compute before any call: definitions, bindings,
trees."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from clients.cli.group import dependency_forest
from clients.cli.taskdef import (
    Submission,
    complete_definition,
    engine_of,
    parse_duration_s,
    parse_pairs,
    task_definition,
)
from clients.cli.watch import watch_bindings
from clients.protocol.events import Exchange
from clients.protocol.routing import Pattern
from clients.protocol.tasks import CreateTaskRequest, TaskAndStatus
from clients.protocol.times import format_ms

NOW = 1_700_000_000_000
SUB = Submission(command=("make", "test"), owner="me@host", source="http://127.0.0.1:8080")


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800),
                                               ("2h", 7200), ("1d", 86400), (" 1w ", 604800)])  # fmt: skip
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("bad", ["", "1y", "h", "-1s", "1.5h"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(bad)


def test_pairs_keep_everything_after_the_first_equals_sign() -> None:
    assert parse_pairs(["A=1", "B=x=y", "C="], "--env") == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(ValueError, match="--env takes KEY=VALUE"):
        parse_pairs(["A"], "--env")


def test_process_queues_get_the_process_engine() -> None:
    assert engine_of("local/docker") == "docker"
    assert engine_of("local/process") == "process"
    assert engine_of("prov/process-linux") == "process"
    assert engine_of("local/process", "docker") == "docker"


def test_a_docker_submission_is_a_complete_valid_task() -> None:
    sub = dataclasses.replace(SUB, env={"A": "1"}, artifacts={"public/dist": "/dist/"})
    definition = task_definition(sub, NOW)
    request = msgspec.convert(definition, CreateTaskRequest)  # what the queue will accept
    assert request.task_queue_id == "local/docker"
    assert (request.created, request.deadline) == (format_ms(NOW), format_ms(NOW + 86_400_000))
    assert request.metadata.name == "make test"
    assert request.metadata.owner == "me@host"
    assert request.payload == {
        "image": "debian:stable-slim",
        "command": ["make", "test"],
        "env": {"A": "1"},
        "maxRunTime": 3600,
        "artifacts": {"public/dist": {"type": "directory", "path": "/dist"}},
    }


def test_a_process_submission_has_generic_worker_shape() -> None:
    sub = dataclasses.replace(SUB, task_queue_id="local/process", artifacts={"public/a": "a.txt"})
    payload = task_definition(sub, NOW)["payload"]
    assert payload["command"] == [["make", "test"]]
    assert payload["artifacts"] == [{"type": "file", "path": "a.txt", "name": "public/a"}]


def test_a_submission_needs_a_command() -> None:
    with pytest.raises(ValueError, match="command"):
        task_definition(dataclasses.replace(SUB, command=()), NOW)


def test_a_file_definition_is_completed_with_relative_times_and_metadata() -> None:
    loaded = {"deadline": "2h", "expires": "7d", "metadata": {"name": "nightly"}, "payload": {}}
    done = complete_definition(
        loaded, now_ms=NOW, task_queue_id="local/docker", owner="me", source="http://x"
    )
    assert done["created"] == format_ms(NOW)
    assert done["deadline"] == format_ms(NOW + 7_200_000)
    assert done["expires"] == format_ms(NOW + 7 * 86_400_000)
    assert done["taskQueueId"] == "local/docker"
    assert done["metadata"]["name"] == "nightly" and done["metadata"]["owner"] == "me"
    msgspec.convert(done, CreateTaskRequest)
    with pytest.raises(ValueError, match="payload"):
        complete_definition({}, now_ms=NOW, task_queue_id="q/q", owner="me", source="http://x")


KEY = "primary.TASK.0.grp.wrk.prov.type.-.GROUP._"


def test_watch_bindings_combine_filters_in_one_pattern() -> None:
    [binding] = watch_bindings(
        [Exchange.task_failed], task_group_id="GROUP", task_queue_id="prov/type"
    )
    pattern = Pattern.compile(binding.routing_key_pattern)
    assert pattern.matches_key(KEY)
    assert not pattern.matches_key(KEY.replace("GROUP", "OTHER"))
    assert not pattern.matches_key(KEY.replace("prov", "vorp"))
    assert watch_bindings([Exchange.task_group_resolved], task_id="TASK") == []
    [everything] = watch_bindings([Exchange.task_group_resolved])
    assert everything.routing_key_pattern == "#"


def _item(task_id: str, *dependencies: str) -> TaskAndStatus:
    return msgspec.convert(
        {"task": {"provisionerId": "p", "workerType": "w", "taskQueueId": "p/w", "schedulerId": "-",
                  "projectId": "none", "taskGroupId": "G", "dependencies": list(dependencies),
                  "requires": "all-completed", "routes": [], "priority": "lowest", "retries": 5,
                  "created": "c", "deadline": "d", "expires": "e", "scopes": [], "payload": {},
                  "metadata": {"name": task_id, "description": "", "owner": "o", "source": "http://x"},
                  "tags": {}, "extra": {}},
         "status": {"taskId": task_id, "provisionerId": "p", "workerType": "w", "taskQueueId": "p/w",
                    "schedulerId": "-", "projectId": "none", "taskGroupId": "G", "priority": "lowest",
                    "deadline": "d", "expires": "e", "retriesLeft": 5, "state": "pending", "runs": []}},
        TaskAndStatus,
    )  # fmt: skip


def test_the_group_tree_hangs_each_task_under_its_first_dependency() -> None:
    items = [
        _item("a"),
        _item("b", "a"),
        _item("c", "a"),
        _item("d", "b", "c", "outside"),
        _item("e", "e"),
    ]
    roots = dependency_forest(items)
    assert [r.item.status.task_id for r in roots] == ["a", "e"]
    [b, c] = roots[0].children
    assert [n.item.status.task_id for n in b.children] == ["d"]
    assert b.children[0].also_after == ["c"]
    assert c.children == []
