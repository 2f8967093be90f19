"""Task definitions and small waits shared by the integration and e2e tests."""

from __future__ import annotations

import datetime as dt

import taskcluster

__all__ = ["task_definition"]


def task_definition(queue_id: str = "prov/wt", **overrides: object) -> dict[str, object]:
    """A valid createTask body with a deadline an hour away; fields can be overridden."""
    now = dt.datetime.now(dt.UTC)
    definition: dict[str, object] = {
        "taskQueueId": queue_id,
        "created": taskcluster.stringDate(now),
        "deadline": taskcluster.stringDate(now + dt.timedelta(hours=1)),
        "payload": {},
        "metadata": {
            "name": "a task",
            "description": "made by a test",
            "owner": "tests@example.com",
            "source": "https://example.com/tests",
        },
    }
    definition.update(overrides)
    return definition
