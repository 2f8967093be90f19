"""Task payloads (the Structs of clients/protocol/payloads.py) decoded once into an
engine-neutral `Job`.

Two payload shapes are accepted (protocol.md, "Worker payloads"): the docker-worker payload
(reference 5.1) for the Docker engine and the generic-worker payload (reference 5.2) for the
process engine. Unknown fields are refused, as their schemas do, so a typo is a clear
malformed-payload instead of a silently ignored setting. Decoding is pure.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from msgspec import Struct

from clients.protocol.payloads import (
    ArtifactKind,
    DockerPayload,
    IndexedImage,
    ProcessPayload,
    TaskImage,
)

from .errors import MalformedPayload

__all__ = [
    "ArtifactRequest",
    "DockerPayload",
    "Job",
    "ProcessPayload",
    "decode_job",
    "required_scopes",
]


@dataclass(frozen=True)
class ArtifactRequest:
    name: str
    kind: ArtifactKind
    path: str  # absolute in the container, or relative to the task directory
    expires: str | None = None
    content_type: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class Job:
    """What to run, whatever the engine: decoded, checked, with defaults filled in."""

    commands: tuple[tuple[str, ...], ...]  # Docker: at most one; empty runs the image's default
    env: dict[str, str]
    max_run_time_s: int
    artifacts: tuple[ArtifactRequest, ...] = ()
    image: str | None = None
    caches: dict[str, str] | None = None  # cache name -> mount path in the container
    retry_codes: frozenset[int] = frozenset()
    purge_codes: frozenset[int] = frozenset()
    docker_save: bool = False
    privileged: bool = False
    live_log: bool = True  # a live.log artifact streaming the task log (features.liveLog)
    live_log_name: str = "public/logs/live.log"
    interactive: bool = False  # shells may attach (features.interactive)
    keep_alive_on_failure_s: int = 0  # a failed run's container is kept this long


_UNSUPPORTED_DOCKER_FEATURES = (
    "taskcluster_proxy",
    "allow_ptrace",
    "chain_of_trust",
)
_UNSUPPORTED_PROCESS_FEATURES = ("taskcluster_proxy", "chain_of_trust")


def decode_job(engine: Literal["docker", "process"], payload: Any, max_run_time_s: int) -> Job:
    """The job a payload asks for; MalformedPayload (with the JSON path) when it is invalid."""
    try:
        if engine == "docker":
            job = _docker_job(msgspec.convert(payload, DockerPayload))
        else:
            job = _process_job(msgspec.convert(payload, ProcessPayload))
    except msgspec.ValidationError as error:
        raise MalformedPayload(f"the payload is invalid: {error}") from None
    if job.max_run_time_s > max_run_time_s:
        raise MalformedPayload(
            f"the payload is invalid: maxRunTime {job.max_run_time_s} s is more than this"
            f" worker allows ({max_run_time_s} s)"
        )
    return job


def _refuse_features(features: Struct, names: tuple[str, ...]) -> None:
    wire = dict(zip(features.__struct_fields__, features.__struct_encode_fields__, strict=True))
    asked = [f"features.{wire[name]}" for name in names if getattr(features, name)]
    if asked:
        raise MalformedPayload(
            f"the payload is invalid: this worker does not support {', '.join(asked)}"
        )


def _docker_job(payload: DockerPayload) -> Job:
    _refuse_features(payload.features, _UNSUPPORTED_DOCKER_FEATURES)
    if payload.capabilities.devices:
        raise MalformedPayload("the payload is invalid: devices are not supported")
    if isinstance(payload.image, IndexedImage | TaskImage):
        raise MalformedPayload(
            "the payload is invalid: only image names (a string or"
            " {type: docker-image, name}) are supported"
        )
    image = payload.image if isinstance(payload.image, str) else payload.image.name
    for name, spec in payload.artifacts.items():
        if not posixpath.isabs(spec.path):
            raise MalformedPayload(
                f"the payload is invalid: artifact {name!r} path must be absolute"
            )
    for name, path in payload.cache.items():
        if not posixpath.isabs(path):
            raise MalformedPayload(
                f"the payload is invalid: cache {name!r} mount path must be absolute"
            )
    artifacts = tuple(
        ArtifactRequest(name, spec.type, spec.path, spec.expires or None)
        for name, spec in sorted(payload.artifacts.items())
    )
    return Job(
        commands=(tuple(payload.command),) if payload.command else (),
        env=dict(payload.env),
        max_run_time_s=payload.max_run_time,
        artifacts=artifacts,
        image=image,
        caches=dict(payload.cache),
        retry_codes=frozenset(payload.on_exit_status.retry),
        purge_codes=frozenset(payload.on_exit_status.purge_caches),
        docker_save=payload.features.docker_save,
        privileged=payload.capabilities.privileged,
        live_log=payload.features.local_live_log,
        live_log_name=payload.log,
        **_interactive(payload.features.interactive, payload.features.keep_alive_on_failure),
    )


def _interactive(interactive: bool, keep_alive_s: int) -> dict[str, Any]:
    if keep_alive_s and not interactive:
        raise MalformedPayload(
            "the payload is invalid: features.keepAliveOnFailure needs features.interactive"
            " (the kept container is reached through its shell)"
        )
    return {"interactive": interactive, "keep_alive_on_failure_s": keep_alive_s}


def _relative_inside(path: str) -> bool:
    normal = posixpath.normpath(path)
    return not posixpath.isabs(normal) and normal != ".." and not normal.startswith("../")


def _process_job(payload: ProcessPayload) -> Job:
    _refuse_features(payload.features, _UNSUPPORTED_PROCESS_FEATURES)
    artifacts = []
    for spec in payload.artifacts:
        if not _relative_inside(spec.path):
            raise MalformedPayload(
                f"the payload is invalid: artifact path {spec.path!r} must be relative to the"
                " task directory and stay inside it"
            )
        name = spec.name if isinstance(spec.name, str) else posixpath.normpath(spec.path)
        artifacts.append(
            ArtifactRequest(
                name,
                spec.type,
                posixpath.normpath(spec.path),
                spec.expires or None,
                spec.content_type or None,
                spec.optional,
            )
        )
    return Job(
        commands=tuple(tuple(command) for command in payload.command),
        env=dict(payload.env),
        max_run_time_s=payload.max_run_time,
        artifacts=tuple(artifacts),
        retry_codes=frozenset(payload.on_exit_status.retry),
        purge_codes=frozenset(payload.on_exit_status.purge_caches),
        live_log=payload.features.live_log,
        **_interactive(payload.features.interactive, payload.features.keep_alive_on_failure),
    )


def required_scopes(job: Job, task_queue_id: str = "") -> list[str]:
    """The scopes the task must hold for what its payload asks (reference 5.1, 5.5)."""
    needed = [f"docker-worker:cache:{name}" for name in sorted(job.caches or {})]
    if job.privileged:
        needed.append("docker-worker:capability:privileged")
    if job.interactive:
        needed.append(
            "docker-worker:feature:interactive"
            if job.image is not None
            else f"generic-worker:interactive:{task_queue_id}"
        )
    return needed
