"""PostgreSQL for the tests: a schema of its own per test, dropped afterwards.

The server is INFRAX_TEST_POSTGRES_URL (default: 127.0.0.1:5432, database `test`, trust
auth). Several engineers' runs share it, so every test gets a fresh schema named
`infrax_test_<unix time>_<random>`; schemas of runs that were killed before they could clean
up are dropped at the next run once they are a day old. Without a reachable server the
PostgreSQL half of the suite is skipped, unless INFRAX_REQUIRE_POSTGRES=1 (CI) makes that a
failure.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest

__all__ = ["POSTGRES_URL", "STORES", "admin", "postgres_schema", "schema_url"]

POSTGRES_URL = os.environ.get("INFRAX_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
PREFIX = "infrax_test_"
STALE_AFTER_S = 86_400


def admin(sql: str, *args: object) -> list[Any]:
    """Run one statement on the test server (in a thread with its own loop); its rows."""
    import asyncpg

    async def run() -> list[Any]:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=10)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    found: list[Any] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            found.extend(asyncio.run(run()))
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    if failure:
        raise failure[0]
    return found


@functools.cache
def _reachable() -> str | None:
    """None when the server answers (and stale schemas are swept); else why not."""
    try:
        stale = admin(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            PREFIX.replace("_", r"\_") + "%",
        )
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    now = time.time()
    for (name,) in stale:
        stamp = name.removeprefix(PREFIX).split("_")[0]
        if stamp.isdigit() and now - int(stamp) > STALE_AFTER_S:
            admin(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    return None


def schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}search_path={quote(schema)}"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose search_path is a new, empty schema; the schema is dropped on exit."""
    problem = _reachable()
    if problem is not None:
        if os.environ.get("INFRAX_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required but unreachable: {problem}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {problem}")
    name = f"{PREFIX}{int(time.time())}_{secrets.token_hex(5)}"
    admin(f'CREATE SCHEMA "{name}"')
    try:
        yield schema_url(name)
    finally:
        admin(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
