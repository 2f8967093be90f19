"""PostgreSQL for the tests: a schema of its own per test, dropped afterwards (bench/postgres.py).

The server is INFRAX_TEST_POSTGRES_URL (default: 127.0.0.1:5432, database `test`, trust
auth), shared by several engineers' runs. Without a reachable server the PostgreSQL half of
the suite is skipped, unless INFRAX_REQUIRE_POSTGRES=1 (CI) makes that a failure.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest

from bench.postgres import (
    DEFAULT_URL,
    create_schema,
    drop_schema,
    drop_stale_schemas,
    run_sql,
    schema_url,
)

__all__ = [
    "POSTGRES_URL",
    "STORES",
    "admin",
    "in_own_loop",
    "postgres_schema",
    "require",
    "require_nginx",
]

POSTGRES_URL = os.environ.get("INFRAX_TEST_POSTGRES_URL", DEFAULT_URL)
STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
PREFIX = "infrax_test_"
T = TypeVar("T")


def in_own_loop(work: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a loop of its own in another thread (callers may be inside one)."""
    found: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        async def main() -> T:
            return await work()

        try:
            found.append(asyncio.run(main()))
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if failure:
        raise failure[0]
    return found[0]


def admin(sql: str, *args: object) -> list[Any]:
    """Run one statement on the test server; its rows."""
    return in_own_loop(lambda: run_sql(POSTGRES_URL, sql, *args))


@functools.cache
def _reachable() -> str | None:
    """None when the server answers (and stale schemas are swept); else why not."""
    try:
        in_own_loop(lambda: drop_stale_schemas(POSTGRES_URL, PREFIX))
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def require() -> None:
    """Skip (or, with INFRAX_REQUIRE_POSTGRES=1, fail) when the server is unreachable."""
    problem = _reachable()
    if problem is not None:
        if os.environ.get("INFRAX_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required but unreachable: {problem}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {problem}")


def require_nginx() -> None:
    """Replicas behind nginx (bench/cluster.py): skip without nginx, or with
    INFRAX_REQUIRE_NGINX=1 (CI) fail."""
    from bench.cluster import nginx_path

    if nginx_path() is None:
        if os.environ.get("INFRAX_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is required but not installed (scripts/nginx installs it)")
        pytest.skip("nginx is not installed (scripts/nginx installs it)")


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema; the schema is dropped on exit."""
    require()
    name = in_own_loop(lambda: create_schema(POSTGRES_URL, PREFIX))
    try:
        yield schema_url(POSTGRES_URL, name)
    finally:
        in_own_loop(lambda: drop_schema(POSTGRES_URL, name))
