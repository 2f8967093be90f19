"""A database made by an older version is migrated in place when the store opens it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from queue_server.bus import Bus
from queue_server.store.schema import MIGRATIONS
from queue_server.store.sqlite import SQLiteStore


async def test_a_version_1_database_gains_the_artifact_tables_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute(
            "INSERT INTO task_queues (task_queue_id, expires, last_date_active) VALUES ('p/w', 1, 1)"
        )
    store = await SQLiteStore.open(path, Bus())
    try:
        assert await store.get_artifact("fN1gGK8HRbWZBZJPOY2V4Q", 0, "public/x") is None
        assert await store.get_object("t/x") is None
        assert await store.due_blobs(0, 10) == []
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
        queues = conn.execute("SELECT task_queue_id FROM task_queues").fetchall()
    assert versions == list(range(1, len(MIGRATIONS) + 1))
    assert queues == [("p/w",)]
