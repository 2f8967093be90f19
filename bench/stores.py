"""Where the queue figures (lifecycle throughput, claim latency) run: SQLite, and with
`--postgres` PostgreSQL with one replica and with three behind nginx (bench/README.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .cluster import running_cluster
from .postgres import fresh_schema
from .server import Deployed, Deployment, running_queue

__all__ = ["Target", "targets"]

SCHEMA_PREFIX = "infrax_bench_"


@dataclass(frozen=True)
class Target:
    label: str  # after the figure's name; "" for SQLite
    deploy: Deployment


def _on_postgres(url: str, replicas: int) -> Deployment:
    """A fresh schema per round; one replica called directly, or several behind nginx."""

    @asynccontextmanager
    async def deploy() -> AsyncIterator[Deployed]:
        async with fresh_schema(url, SCHEMA_PREFIX) as schema_url:
            if replicas == 1:
                async with running_queue(database_url=schema_url) as queue:
                    yield queue
            else:
                async with running_cluster(replicas, schema_url) as cluster:
                    yield cluster

    return deploy


def targets(postgres_url: str | None) -> list[Target]:
    found = [Target("", running_queue)]
    if postgres_url is not None:
        found += [
            Target(", postgres x1", _on_postgres(postgres_url, 1)),
            Target(", postgres x3 + nginx", _on_postgres(postgres_url, 3)),
        ]
    return found
