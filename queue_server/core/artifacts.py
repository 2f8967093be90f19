"""Artifact rules, pure (protocol.md, "Artifacts"): names, who may create what and when,
what a repeated createArtifact may change, and the artifact-created message.

The store calls these inside its transaction with the task record it loaded; the handlers
call them for what needs no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from msgspec import UNSET

from clients.protocol import artifacts as a
from clients.protocol.errors import ApiError, ErrorCode, conflict, input_error
from clients.protocol.events import (
    ArtifactCreated,
    ArtifactInfo,
    Exchange,
    Message,
    task_routing_key,
)
from clients.protocol.states import RunState
from clients.protocol.tasks import RunInfo
from clients.protocol.times import format_ms, parse_time

from .lifecycle import TaskRecord
from .objects import ObjectRow

__all__ = [
    "EXCEPTION_GRACE_MS",
    "EXPIRES_SLACK_MS",
    "ArtifactRow",
    "CreatedArtifact",
    "artifact_of_object_name",
    "artifact_row",
    "check_creatable",
    "compatible",
    "created_message",
    "expired",
    "info",
    "name_problem",
    "object_name",
    "updated",
]

# Artifacts may still be created this long after a run is resolved `exception`, so that a
# worker can report early and upload its logs afterwards (Taskcluster's 25 minutes).
EXCEPTION_GRACE_MS = 25 * 60_000
# An artifact's `expires` may lie this far in the past when it is created (clock skew).
EXPIRES_SLACK_MS = 15 * 60_000
BYTES_TYPES = frozenset({"s3", "object"})  # types whose bytes live in an object


@dataclass(frozen=True)
class ArtifactRow:
    task_id: str
    run_id: int
    name: str
    storage_type: str
    content_type: str
    expires_ms: int
    present: bool
    content_length: int | None = None
    # reference: {url}; link: {artifact}; error: {reason, message}; s3 and object: {}
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CreatedArtifact:
    artifact: ArtifactRow
    object: ObjectRow | None  # the object holding the bytes, for s3 and object artifacts


def name_problem(name: str) -> str | None:
    """Why `name` cannot name an artifact, or None. The URL pattern already ensures
    printable ASCII; these rules keep names usable as relative paths (protocol.md)."""
    if len(name) > a.ARTIFACT_NAME_MAX:
        return f"an artifact name has at most {a.ARTIFACT_NAME_MAX} characters"
    if name.startswith("/"):
        return "an artifact name must not start with `/`"
    if ".." in name.split("/"):
        return "an artifact name must not have a `..` segment"
    return None


def object_name(task_id: str, run_id: int, name: str) -> str:
    """The name of the object holding an s3 or object artifact's bytes (as Taskcluster)."""
    return f"t/{task_id}/{run_id}/{name}"


def artifact_of_object_name(name: str) -> tuple[str, int, str] | None:
    """(taskId, runId, artifact name) of an object named by `object_name`, else None."""
    prefix, _, rest = name.partition("/")
    task_id, _, rest = rest.partition("/")
    run_text, _, artifact = rest.partition("/")
    if prefix != "t" or len(task_id) != 22 or not run_text.isdigit() or not artifact:
        return None
    return task_id, int(run_text), artifact


def _expires(text: str, now_ms: int) -> int:
    try:
        expires = parse_time(text)
    except ValueError:
        raise input_error(f"`expires` is not a date-time: {text!r}", path="$.expires") from None
    if expires < now_ms - EXPIRES_SLACK_MS:
        raise input_error("`expires` must not be in the past", path="$.expires")
    return expires


def artifact_row(
    task_id: str, run_id: int, name: str, request: a.CreateArtifactRequest, now_ms: int
) -> ArtifactRow:
    """The artifact a createArtifact request describes (not yet present unless said)."""
    problem = name_problem(name)
    if problem is not None:
        raise ApiError(ErrorCode.invalid_request_arguments, problem, name=name)
    expires = _expires(request.expires, now_ms)
    content_type = a.DEFAULT_CONTENT_TYPE
    if not isinstance(request, a.ErrorArtifactRequest) and request.content_type is not UNSET:
        content_type = request.content_type
    row = ArtifactRow(task_id, run_id, name, "", content_type, expires, present=True)
    if isinstance(request, a.S3ArtifactRequest | a.ObjectArtifactRequest):
        length = None if request.content_length is UNSET else request.content_length
        kind = "s3" if isinstance(request, a.S3ArtifactRequest) else "object"
        return replace(row, storage_type=kind, present=False, content_length=length)
    if isinstance(request, a.ReferenceArtifactRequest):
        return replace(row, storage_type="reference", details={"url": request.url})
    if isinstance(request, a.LinkArtifactRequest):
        problem = name_problem(request.artifact)
        if problem is not None:
            raise input_error(problem, path="$.artifact")
        return replace(row, storage_type="link", details={"artifact": request.artifact})
    details = {"reason": request.reason, "message": request.message}
    return replace(row, storage_type="error", details=details)


def check_creatable(record: TaskRecord, row: ArtifactRow, now_ms: int) -> RunInfo:
    """The run the artifact belongs to, if artifacts may be created for it now.

    400 for an unknown run or one no worker claimed, or an `expires` after the task's;
    409 once the run is resolved, except within 25 minutes of an `exception` resolution.
    """
    runs = record.runs
    run = runs[row.run_id] if 0 <= row.run_id < len(runs) else None
    if run is None:
        raise input_error(f"run {row.run_id} of task {row.task_id} not found")
    if run.worker_group is UNSET or run.worker_id is UNSET:
        raise input_error("the run was not claimed by a worker, so it can have no artifacts")
    task_expires = parse_time(record.task.expires)
    if row.expires_ms > task_expires:
        raise input_error(
            f"the artifact would expire ({format_ms(row.expires_ms)}) after its task"
            f" ({record.task.expires})",
            path="$.expires",
        )
    if run.state is not RunState.running and not _in_exception_grace(run, now_ms):
        raise conflict(
            f"run {row.run_id} of task {row.task_id} is {run.state.value}: artifacts can only be"
            " created while the run is running, or within 25 minutes of an exception"
        )
    return run


def _in_exception_grace(run: RunInfo, now_ms: int) -> bool:
    if run.state is not RunState.exception or run.resolved is UNSET:
        return False
    return parse_time(str(run.resolved)) > now_ms - EXCEPTION_GRACE_MS


def compatible(original: ArtifactRow, new: ArtifactRow) -> bool:
    """Whether a repeated createArtifact may stand (protocol.md, "Immutability").

    Identical requests are idempotent; `expires` may grow, never shrink; a reference may
    change its URL; a link may replace a reference. Anything else is a conflict.
    """
    if new.storage_type != "link" and original.content_type != new.content_type:
        return False
    if new.expires_ms < original.expires_ms:
        return False
    if original.storage_type == new.storage_type:
        if new.storage_type == "reference":
            return True
        if new.storage_type in BYTES_TYPES:  # their details are the server's own
            return original.content_length == new.content_length
        return original.details == new.details
    return original.storage_type == "reference" and new.storage_type == "link"


def updated(original: ArtifactRow, new: ArtifactRow) -> ArtifactRow:
    """The artifact after a compatible repeat: type, details and expiry may change."""
    details = original.details if new.storage_type in BYTES_TYPES else new.details
    return replace(
        original, storage_type=new.storage_type, details=details, expires_ms=new.expires_ms
    )


def expired(row: ArtifactRow, now_ms: int) -> bool:
    return row.expires_ms <= now_ms


def info(row: ArtifactRow) -> a.Artifact:
    artifact = a.Artifact(
        storage_type=row.storage_type,  # type: ignore[arg-type]
        name=row.name,
        expires=format_ms(row.expires_ms),
        content_type=row.content_type,
    )
    if row.content_length is not None:
        artifact.content_length = row.content_length
    return artifact


def created_message(record: TaskRecord, run: RunInfo, row: ArtifactRow) -> Message:
    """artifact-created about `row` of `run` (protocol.md, "Events")."""
    worker_group, worker_id = str(run.worker_group), str(run.worker_id)
    body = ArtifactCreated(
        status=record.status(),
        run_id=run.run_id,
        worker_group=worker_group,
        worker_id=worker_id,
        artifact=ArtifactInfo(
            storage_type=row.storage_type,
            name=row.name,
            expires=format_ms(row.expires_ms),
            content_type=row.content_type,
        ),
    )
    return Message(
        exchange=Exchange.artifact_created,
        routing_key=task_routing_key(body.status, run.run_id, worker_group, worker_id),
        cc=[f"route.{route}" for route in record.task.routes],
        body=body,
    )
