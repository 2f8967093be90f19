"""The event stream's hub: each matching message once, read scopes, bounded buffers."""

from __future__ import annotations

import msgspec

from clients.protocol.events import (
    Exchange,
    Message,
    TaskGroupChanged,
    TaskMessage,
    group_routing_key,
    task_routing_key,
)
from clients.protocol.routing import Pattern
from clients.protocol.scopes import ScopeSet
from clients.protocol.states import Priority, TaskState
from clients.protocol.stream import CLOSE_TOO_SLOW
from clients.protocol.tasks import TaskStatus
from queue_server.streams import Hub, Subscriber

EVERYTHING = ScopeSet(["*"])


def status(task_id: str, group: str = "G" * 22) -> TaskStatus:
    return TaskStatus(
        task_id=task_id,
        provisioner_id="prov",
        worker_type="wt",
        task_queue_id="prov/wt",
        scheduler_id="-",
        project_id="none",
        task_group_id=group,
        priority=Priority.lowest,
        deadline="2030-01-01T00:00:00.000Z",
        expires="2031-01-01T00:00:00.000Z",
        retries_left=5,
        state=TaskState.pending,
        runs=[],
    )


def task_message(task_id: str, exchange: Exchange = Exchange.task_pending, **kw: object) -> Message:
    st = status(task_id, **kw)  # type: ignore[arg-type]
    cc = [f"route.{r}" for r in ("index.a.b", "other")]
    return Message(
        exchange=exchange, routing_key=task_routing_key(st, 0), cc=cc, body=TaskMessage(status=st)
    )


def received(subscriber: Subscriber) -> list[dict[str, object]]:
    frames = list(subscriber._frames)
    subscriber._frames.clear()
    return [msgspec.json.decode(frame) for frame in frames]


def bound(hub: Hub, scopes: ScopeSet, exchange: Exchange, *patterns: str) -> Subscriber:
    subscriber = hub.connect(scopes)
    hub.bind(subscriber, exchange, [Pattern.compile(p) for p in patterns])
    return subscriber


def test_a_message_matching_several_bindings_and_keys_is_sent_once() -> None:
    hub = Hub(limit=10)
    subscriber = bound(hub, EVERYTHING, Exchange.task_pending, "primary.A.#", "#", "route.index.#")
    hub.publish(task_message("A"))
    [frame] = received(subscriber)
    assert frame["type"] == "message"
    assert frame["exchange"] == "exchange/taskcluster-queue/v1/task-pending"
    assert frame["routingKey"] == task_routing_key(status("A"), 0)
    assert frame["routes"] == ["index.a.b", "other"]
    assert frame["payload"]["status"]["taskId"] == "A"  # type: ignore[index]


def test_only_matching_exchanges_and_keys_are_delivered() -> None:
    hub = Hub(limit=10)
    by_task = bound(hub, EVERYTHING, Exchange.task_pending, "primary.A.#")
    by_route = bound(hub, EVERYTHING, Exchange.task_pending, "route.other")
    other_exchange = bound(hub, EVERYTHING, Exchange.task_completed, "#")
    hub.publish(task_message("B"))
    assert received(by_task) == []
    assert len(received(by_route)) == 1
    assert received(other_exchange) == []
    hub.publish(task_message("A"))
    assert [f["payload"]["status"]["taskId"] for f in received(by_task)] == ["A"]  # type: ignore[index]


def test_unbinding_and_disconnecting_stop_delivery() -> None:
    hub = Hub(limit=10)
    subscriber = bound(hub, EVERYTHING, Exchange.task_pending, "primary.A.#", "#")
    hub.unbind(subscriber, Exchange.task_pending, [Pattern.compile("#")])
    hub.publish(task_message("B"))
    assert received(subscriber) == []
    hub.disconnect(subscriber)
    hub.publish(task_message("A"))
    assert received(subscriber) == []
    assert hub.subscriber_count == 0


def test_messages_go_only_to_subscribers_holding_their_read_scope() -> None:
    hub = Hub(limit=10)
    one_task = bound(hub, ScopeSet(["queue:status:A"]), Exchange.task_pending, "#")
    nothing = bound(hub, ScopeSet([]), Exchange.task_pending, "#")
    hub.publish(task_message("A"))
    hub.publish(task_message("B"))
    assert [f["payload"]["status"]["taskId"] for f in received(one_task)] == ["A"]  # type: ignore[index]
    assert received(nothing) == []
    group = bound(hub, ScopeSet(["queue:list-task-group:G*"]), Exchange.task_group_resolved, "#")
    for group_id in ("G1", "H1"):
        body = TaskGroupChanged(
            task_group_id=group_id, scheduler_id="-", expires="2031-01-01T00:00:00.000Z"
        )
        hub.publish(
            Message(
                exchange=Exchange.task_group_resolved,
                routing_key=group_routing_key(group_id, "-"),
                cc=[],
                body=body,
            )
        )
    assert [f["payload"]["taskGroupId"] for f in received(group)] == ["G1"]  # type: ignore[index]


def test_a_subscriber_past_its_buffer_is_dropped_with_a_reason_and_forgotten() -> None:
    hub = Hub(limit=3)
    slow = bound(hub, EVERYTHING, Exchange.task_pending, "#")
    fast = bound(hub, EVERYTHING, Exchange.task_pending, "#")
    for n in range(3):
        hub.publish(task_message(f"T{n}"))
    assert len(received(fast)) == 3
    assert slow.closed is None
    hub.publish(task_message("T3"))
    assert slow.closed is not None
    code, reason = slow.closed
    assert code == CLOSE_TOO_SLOW
    assert reason.startswith("too slow: 3 messages were waiting")
    assert len(reason.encode()) <= 123  # what a websocket close frame can carry
    assert list(slow._frames) == []  # its buffer is released
    assert hub.subscriber_count == 1
    hub.publish(task_message("T4"))
    assert len(received(fast)) == 2
