"""Transactions on stored clients (the Auth v1 subset)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from ..core.pages import Page
from .db import Db
from .listings import page_rows

__all__ = [
    "ClientRow",
    "create_client",
    "delete_client",
    "get_client",
    "list_clients",
    "reset_client",
]

_COLUMNS = (
    "client_id, description, scopes, salt, created, last_modified, last_rotated, last_date_used,"
    " expires, disabled, delete_on_expiration"
)


@dataclass(frozen=True)
class ClientRow:
    client_id: str
    description: str
    scopes: list[str]
    salt: str
    created: int
    last_modified: int
    last_rotated: int
    last_date_used: int
    expires: int
    disabled: bool
    delete_on_expiration: bool


def _row(row: tuple[object, ...]) -> ClientRow:
    values = list(row)
    values[2] = msgspec.json.decode(values[2], type=list[str])  # type: ignore[call-overload]
    values[9] = bool(values[9])
    values[10] = bool(values[10])
    return ClientRow(*values)  # type: ignore[arg-type]


async def get_client(db: Db, client_id: str) -> ClientRow | None:
    row = await db.one(f"SELECT {_COLUMNS} FROM clients WHERE client_id = ?", (client_id,))
    return None if row is None else _row(row)


async def create_client(db: Db, client: ClientRow) -> bool:
    """Insert; False when a client with that id exists already."""
    inserted = await db.run(
        f"INSERT INTO clients ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (client_id) DO NOTHING",
        (
            client.client_id,
            client.description,
            msgspec.json.encode(client.scopes),
            client.salt,
            client.created,
            client.last_modified,
            client.last_rotated,
            client.last_date_used,
            client.expires,
            int(client.disabled),
            int(client.delete_on_expiration),
        ),
    )
    return inserted == 1


async def reset_client(db: Db, client_id: str, salt: str, now_ms: int) -> ClientRow | None:
    await db.run(
        "UPDATE clients SET salt = ?, last_rotated = ?, last_modified = ? WHERE client_id = ?",
        (salt, now_ms, now_ms, client_id),
    )
    return await get_client(db, client_id)


async def delete_client(db: Db, client_id: str) -> None:
    await db.run("DELETE FROM clients WHERE client_id = ?", (client_id,))


async def list_clients(db: Db, prefix: str, page: Page) -> tuple[list[ClientRow], str | None]:
    (after,) = page.key(("",))
    rows = await db.all(
        f"SELECT {_COLUMNS} FROM clients WHERE client_id > ? AND client_id >= ? AND client_id < ?"
        " ORDER BY client_id LIMIT ?",
        (after, prefix, prefix + "\U0010ffff", page.limit + 1),
    )
    rows, token = page_rows(rows, page)
    return [_row(row) for row in rows], token
