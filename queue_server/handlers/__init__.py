"""Endpoint handlers; importing this package registers every one of them."""

from . import claims, clients, events, groups, health, tasks, workers

__all__ = ["claims", "clients", "events", "groups", "health", "tasks", "workers"]
