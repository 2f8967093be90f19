"""The SQLite schema, versioned; migrations run in order at start (protocol.md, "Storage").

Invariants, kept by every transaction of the store:
- every pending run has exactly one row in `pending`, and every row there is a pending run;
- every running run has exactly one row in `claims`, and every row there is a running run;
- `tasks.unresolved_deps` counts the rows of `dependencies` for that task with satisfied = 0
  (a task that depends on itself has such a row until scheduleTask);
- `task_groups.active` counts the tasks of the group that are unscheduled, pending or running;
- an s3 or object artifact is present only when the object holding its bytes is finished
  (that object is named `t/<taskId>/<runId>/<name>`);
- every blob in the blob store is referenced by exactly one object (`objects.blob_key`) or by
  one `loose_blobs` row: one being written, replaced or expired, deleted after `delete_after`.
"""

from __future__ import annotations

from .outbox import OUTBOX_SCHEMA

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE tasks (
        task_id TEXT PRIMARY KEY,
        task_group_id TEXT NOT NULL,
        scheduler_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        task_queue_id TEXT NOT NULL,
        definition BLOB NOT NULL,
        runs BLOB NOT NULL,
        retries_left INTEGER NOT NULL,
        state TEXT NOT NULL,
        deadline INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        unresolved_deps INTEGER NOT NULL
    );
    CREATE INDEX tasks_by_group ON tasks (task_group_id, task_id);
    CREATE INDEX tasks_open_by_deadline ON tasks (deadline)
        WHERE state IN ('unscheduled', 'pending', 'running');
    CREATE INDEX tasks_by_expires ON tasks (expires);

    CREATE TABLE dependencies (
        required_task_id TEXT NOT NULL,
        dependent_task_id TEXT NOT NULL,
        requires TEXT NOT NULL,
        satisfied INTEGER NOT NULL,
        PRIMARY KEY (required_task_id, dependent_task_id)
    ) WITHOUT ROWID;
    CREATE INDEX dependencies_by_dependent ON dependencies (dependent_task_id);

    CREATE TABLE pending (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        task_queue_id TEXT NOT NULL,
        priority INTEGER NOT NULL,
        task_id TEXT NOT NULL UNIQUE,
        run_id INTEGER NOT NULL,
        inserted INTEGER NOT NULL
    );
    CREATE INDEX pending_in_claim_order ON pending (task_queue_id, priority DESC, seq);

    CREATE TABLE claims (
        task_id TEXT PRIMARY KEY,
        run_id INTEGER NOT NULL,
        task_queue_id TEXT NOT NULL,
        worker_group TEXT NOT NULL,
        worker_id TEXT NOT NULL,
        taken_until INTEGER NOT NULL,
        claimed INTEGER NOT NULL
    );
    CREATE INDEX claims_by_taken_until ON claims (taken_until);
    CREATE INDEX claims_by_queue ON claims (task_queue_id, claimed, task_id);

    CREATE TABLE task_groups (
        task_group_id TEXT PRIMARY KEY,
        scheduler_id TEXT NOT NULL,
        expires INTEGER NOT NULL,
        sealed INTEGER,
        active INTEGER NOT NULL
    );

    CREATE TABLE task_queues (
        task_queue_id TEXT PRIMARY KEY,
        expires INTEGER NOT NULL,
        last_date_active INTEGER NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        stability TEXT NOT NULL DEFAULT 'experimental'
    );

    CREATE TABLE workers (
        task_queue_id TEXT NOT NULL,
        worker_group TEXT NOT NULL,
        worker_id TEXT NOT NULL,
        first_claim INTEGER NOT NULL,
        last_date_active INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        quarantine_until INTEGER,
        quarantine_details BLOB NOT NULL DEFAULT '[]',
        recent_tasks BLOB NOT NULL DEFAULT '[]',
        PRIMARY KEY (task_queue_id, worker_group, worker_id)
    );

    CREATE TABLE clients (
        client_id TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        scopes BLOB NOT NULL,
        salt TEXT NOT NULL,
        created INTEGER NOT NULL,
        last_modified INTEGER NOT NULL,
        last_rotated INTEGER NOT NULL,
        last_date_used INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        delete_on_expiration INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: artifacts, the objects holding their bytes, and blobs awaiting deletion.
    """
    CREATE TABLE artifacts (
        task_id TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        storage_type TEXT NOT NULL,
        content_type TEXT NOT NULL,
        expires INTEGER NOT NULL,
        present INTEGER NOT NULL,
        content_length INTEGER,
        details BLOB NOT NULL,
        PRIMARY KEY (task_id, run_id, name)
    );
    CREATE INDEX artifacts_by_expires ON artifacts (expires);

    CREATE TABLE objects (
        name TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        upload_id TEXT,
        upload_expires INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        content_length INTEGER,
        blob_key TEXT,
        size INTEGER,
        sha256 TEXT,
        content_encoding TEXT,
        hashes BLOB NOT NULL,
        finish_on_put INTEGER NOT NULL
    );
    CREATE INDEX objects_by_expires ON objects (expires);
    CREATE INDEX objects_open_by_upload_expires ON objects (upload_expires)
        WHERE upload_id IS NOT NULL;

    CREATE TABLE loose_blobs (
        blob_key TEXT PRIMARY KEY,
        delete_after INTEGER NOT NULL
    );
    CREATE INDEX loose_blobs_by_delete_after ON loose_blobs (delete_after);
    """,
    # 3: the AMQP outbox (outbox.py)
    OUTBOX_SCHEMA,
    # 4: the host a worker declared (declareWorker `host`)
    """
    ALTER TABLE workers ADD COLUMN host BLOB;
    """,
    # 5: which replica holds each worker's relay connection (relay_holders.py)
    """
    CREATE TABLE relay_holders (
        worker_group TEXT NOT NULL,
        worker_id TEXT NOT NULL,
        replica_id TEXT NOT NULL,
        replica_url TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (worker_group, worker_id)
    );
    CREATE INDEX relay_holders_by_replica ON relay_holders (replica_id);
    """,
)
