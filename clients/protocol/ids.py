"""Identifiers of the Queue v1 protocol and their patterns (protocol.md, "Identifiers")."""

from __future__ import annotations

import base64
import re
import uuid
from typing import NewType

__all__ = [
    "IDENTIFIER_PATTERN",
    "PROJECT_ID_PATTERN",
    "PROVISIONER_ID_PATTERN",
    "SLUGID_PATTERN",
    "WORKER_TYPE_PATTERN",
    "TaskGroupId",
    "TaskId",
    "TaskQueueId",
    "exact",
    "is_slugid",
    "join_task_queue_id",
    "new_slugid",
    "split_task_queue_id",
]

TaskId = NewType("TaskId", str)
TaskGroupId = NewType("TaskGroupId", str)
TaskQueueId = NewType("TaskQueueId", str)

SLUGID_PATTERN = r"^[A-Za-z0-9_-]{8}[Q-T][A-Za-z0-9_-][CGKOSWaeimquy26-][A-Za-z0-9_-]{10}[AQgw]$"
PROVISIONER_ID_PATTERN = r"^[a-zA-Z0-9-_]{1,38}$"
WORKER_TYPE_PATTERN = r"^[a-z]([-a-z0-9]{0,36}[a-z0-9])?$"
# schedulerId, workerGroup, workerId: no dots, they appear in routing keys.
IDENTIFIER_PATTERN = r"^([a-zA-Z0-9-_]*)$"
PROJECT_ID_PATTERN = r"^([a-zA-Z0-9._/-]*)$"

_SLUGID = re.compile(SLUGID_PATTERN[:-1] + r"\Z")
_PROVISIONER = re.compile(PROVISIONER_ID_PATTERN[:-1] + r"\Z")
_WORKER_TYPE = re.compile(WORKER_TYPE_PATTERN[:-1] + r"\Z")


def exact(pattern: str) -> str:
    """The pattern with its final `$` made `\\Z`: `$` would also match before a trailing newline."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern


def is_slugid(value: str) -> bool:
    return _SLUGID.match(value) is not None


def new_slugid() -> str:
    """A v4 UUID as 22 chars of URL-safe base64 whose first character is a letter ("nice")."""
    raw = bytearray(uuid.uuid4().bytes)
    raw[0] &= 0x7F
    return base64.urlsafe_b64encode(bytes(raw)).decode("ascii")[:22]


def split_task_queue_id(task_queue_id: str) -> tuple[str, str] | None:
    """`prov/type` into its parts, or None when it is not a valid taskQueueId."""
    provisioner_id, sep, worker_type = task_queue_id.partition("/")
    if not sep or not _PROVISIONER.match(provisioner_id) or not _WORKER_TYPE.match(worker_type):
        return None
    return provisioner_id, worker_type


def join_task_queue_id(provisioner_id: str, worker_type: str) -> TaskQueueId:
    return TaskQueueId(f"{provisioner_id}/{worker_type}")
