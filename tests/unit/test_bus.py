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


async def test_a_pending_run_wakes_one_waiter_the_one_waiting_longest() -> None:
    bus = Bus()
    with bus.waiting("p/w") as first, bus.waiting("p/w") as second:
        bus.publish([pending_message("p/w")])
        assert (first.is_set(), second.is_set()) == (True, False)
        bus.publish([pending_message("p/w")])
        assert second.is_set()


async def test_a_waiter_looking_for_work_again_can_be_woken_again() -> None:
    bus = Bus()
    with bus.waiting("p/w") as first, bus.waiting("p/w") as second:
        bus.wake("p/w")
        first.clear()
        bus.wake("p/w")
        assert (first.is_set(), second.is_set()) == (False, True)
        bus.wake("p/w")
        assert first.is_set()


async def test_a_wake_up_a_leaving_waiter_did_not_use_goes_to_another() -> None:
    bus = Bus()
    with bus.waiting("p/w") as staying:
        with bus.waiting("p/w") as leaving:
            bus.wake("p/w")
            bus.wake("p/w")
            assert leaving.is_set() and staying.is_set()
            staying.clear()
        assert staying.is_set()
    assert bus.waiting_count("p/w") == 0
