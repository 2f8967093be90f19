"""A PostgreSQL schema of its own for a benchmark or test run, dropped afterwards.

Several engineers' runs share one server, so each run works in a fresh schema named
`<prefix><unix time>_<random>`; schemas left by runs killed before they cleaned up are dropped
by later runs once they are a day old.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

__all__ = [
    "DEFAULT_URL",
    "create_schema",
    "drop_schema",
    "drop_stale_schemas",
    "fresh_schema",
    "run_sql",
    "schema_url",
]

DEFAULT_URL = "postgresql://127.0.0.1:5432/test"
STALE_AFTER_S = 86_400


async def run_sql(url: str, sql: str, *args: object) -> list[Any]:
    """One statement on its own connection; its rows."""
    import asyncpg  # the optional extra `postgres`

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def schema_url(url: str, schema: str) -> str:
    """`url` with its search_path set to `schema` (the queue's --database-url)."""
    return f"{url}{'&' if '?' in url else '?'}search_path={quote(schema)}"


async def drop_stale_schemas(url: str, prefix: str) -> None:
    pattern = prefix.replace("_", r"\_") + "%"
    rows = await run_sql(url, "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", pattern)
    for (name,) in rows:
        stamp = name.removeprefix(prefix).split("_")[0]
        if stamp.isdigit() and time.time() - int(stamp) > STALE_AFTER_S:
            await run_sql(url, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def create_schema(url: str, prefix: str) -> str:
    """A new empty schema's name."""
    name = f"{prefix}{int(time.time())}_{secrets.token_hex(5)}"
    await run_sql(url, f'CREATE SCHEMA "{name}"')
    return name


async def drop_schema(url: str, name: str) -> None:
    await run_sql(url, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@asynccontextmanager
async def fresh_schema(url: str, prefix: str) -> AsyncIterator[str]:
    """A new empty schema; yields the URL whose search_path is that schema."""
    name = await create_schema(url, prefix)
    try:
        yield schema_url(url, name)
    finally:
        await drop_schema(url, name)
