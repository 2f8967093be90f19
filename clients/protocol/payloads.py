"""The task payloads the workers run, as msgspec Structs (pure).

Two payload shapes (protocol.md, "Worker payloads"): the docker-worker payload (reference
5.1) for the Docker engine and the generic-worker payload (reference 5.2) for the process
engine. Unknown fields are refused, as their schemas do, so a typo is a clear error instead of
a silently ignored setting. The worker decodes them into its `Job` (worker/payload.py);
`infrax reproduce` decodes them to run a task locally.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "PROCESS_PATH",
    "ArtifactKind",
    "Capabilities",
    "DockerArtifact",
    "DockerFeatures",
    "DockerImageName",
    "DockerPayload",
    "IndexedImage",
    "OnExitStatus",
    "ProcessArtifact",
    "ProcessFeatures",
    "ProcessPayload",
    "TaskImage",
]

# PATH of the process engine's commands: their environment is built from scratch.
PROCESS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Seconds = Annotated[int, Meta(ge=1)]
ArtifactKind = Literal["file", "directory"]


class _Strict(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class OnExitStatus(_Strict, kw_only=True):
    retry: list[int] = []
    purge_caches: list[int] = []


class DockerArtifact(_Strict, kw_only=True):
    type: ArtifactKind
    path: Annotated[str, Meta(min_length=1)]
    expires: str | UnsetType = UNSET


class DockerImageName(_Strict, kw_only=True, tag_field="type", tag="docker-image"):
    name: Annotated[str, Meta(min_length=1)]


class IndexedImage(_Strict, kw_only=True, tag_field="type", tag="indexed-image"):
    namespace: str
    path: str


class TaskImage(_Strict, kw_only=True, tag_field="type", tag="task-image"):
    task_id: str
    path: str


class Capabilities(_Strict, kw_only=True):
    privileged: bool = False
    devices: dict[str, bool] = {}


class DockerFeatures(_Strict, kw_only=True):
    docker_save: bool = False
    local_live_log: bool = True
    bulk_log: bool = True
    artifacts: bool = True
    interactive: bool = False
    keep_alive_on_failure: Annotated[int, Meta(ge=0)] = 0
    taskcluster_proxy: bool = False
    allow_ptrace: bool = False
    chain_of_trust: bool = False


class DockerPayload(_Strict, kw_only=True):
    image: Annotated[str, Meta(min_length=1)] | DockerImageName | IndexedImage | TaskImage
    command: list[str] = []
    env: dict[str, str] = {}
    max_run_time: Seconds
    artifacts: dict[str, DockerArtifact] = {}
    cache: dict[Annotated[str, Meta(min_length=1)], Annotated[str, Meta(min_length=1)]] = {}
    capabilities: Capabilities = msgspec.field(default_factory=Capabilities)
    features: DockerFeatures = msgspec.field(default_factory=DockerFeatures)
    on_exit_status: OnExitStatus = msgspec.field(default_factory=OnExitStatus)
    log: str = "public/logs/live.log"
    superseder_url: str | UnsetType = UNSET


class ProcessArtifact(_Strict, kw_only=True):
    type: ArtifactKind
    path: Annotated[str, Meta(min_length=1)]
    name: Annotated[str, Meta(min_length=1)] | UnsetType = UNSET
    expires: str | UnsetType = UNSET
    content_type: str | UnsetType = UNSET
    optional: bool = False


class ProcessFeatures(_Strict, kw_only=True):
    live_log: bool = True
    backing_log: bool = True
    resource_monitor: bool = True
    interactive: bool = False
    keep_alive_on_failure: Annotated[int, Meta(ge=0)] = 0
    taskcluster_proxy: bool = False
    chain_of_trust: bool = False


Command = Annotated[list[str], Meta(min_length=1)]


class ProcessPayload(_Strict, kw_only=True):
    command: Annotated[list[Command], Meta(min_length=1)]
    env: dict[str, str] = {}
    max_run_time: Seconds
    artifacts: list[ProcessArtifact] = []
    features: ProcessFeatures = msgspec.field(default_factory=ProcessFeatures)
    on_exit_status: OnExitStatus = msgspec.field(default_factory=OnExitStatus)
