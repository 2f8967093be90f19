"""The in-process bus: delivery, wake-ups, and isolation from a failing subscriber."""

from __future__ import annotations

import msgspec

from clients.protocol.events import Exchange, Message, TaskMessage
from clients.protocol.tasks import TaskStatus
from queue_server.bus import Bus


def pending_message(queue_id: str) -> Message:
    status = msgspec.convert(
        {
            "taskId": "t",
            "provisionerId": "p",
            "workerType": "w",
            "taskQueueId": queue_id,
            "schedulerId": "-",
            "projectId": "none",
            "taskGroupId": "t",
            "priority": "lowest",
            "deadline": "d",
            "expires": "e",
            "retriesLeft": 5,
            "state": "pending",
            "runs": [],
        },
        TaskStatus,
    )
    return Message(
        exchange=Exchange.task_pending, routing_key="k", cc=[], body=TaskMessage(status=status)
    )


async def test_a_failing_subscriber_does_not_stop_delivery_or_wake_ups() -> None:
    bus = Bus()
    received: list[Message] = []

    def broken(message: Message) -> None:
        raise RuntimeError("consumer bug")

    bus.subscribe(broken)
    bus.subscribe(received.append)
    with bus.waiting("p/w") as woken:
        bus.publish([pending_message("p/w"), pending_message("p/other")])
        assert woken.is_set()
    assert len(received) == 2
    assert bus.waiting_count("p/w") == 0


async def test_wake_reaches_only_waiters_of_that_task_queue() -> None:
    bus = Bus()
    with bus.waiting("p/a") as a, bus.waiting("p/b") as b:
        assert bus.waiting_count("p/a") == 1
        bus.publish([pending_message("p/b")])
        assert (a.is_set(), b.is_set()) == (False, True)
