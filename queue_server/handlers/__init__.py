"""Endpoint handlers; importing this package registers every one of them."""

from . import claims, clients, groups, health, tasks, workers

__all__ = ["claims", "clients", "groups", "health", "tasks", "workers"]
