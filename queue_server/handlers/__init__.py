"""Endpoint handlers; importing this package registers every one of them."""

from . import (
    artifacts,
    claims,
    clients,
    events,
    groups,
    health,
    objects,
    openapi,
    relay,
    tasks,
    workers,
)

__all__ = [
    "artifacts",
    "claims",
    "clients",
    "events",
    "groups",
    "health",
    "objects",
    "openapi",
    "relay",
    "tasks",
    "workers",
]
