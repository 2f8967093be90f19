"""The `config` of a worker pool, per provider type (protocol.md, "Pool configs").

`static` takes Taskcluster's static schema: `{lifecycle: {reregistrationTimeout}, workerConfig}`
and nothing else. `process` and `docker` take Taskcluster's cloud fields (`minCapacity`,
`maxCapacity`, `scalingRatio`, `lifecycle`, `launchConfigs`), where each launch config has the
usual `workerManager` and `workerConfig` and a few fields of its own provider instead of a
cloud's. `launchConfigs` may be left out: one launch config with the defaults is assumed.
Durations are in seconds.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
import yaml
from msgspec import UNSET, Meta, Struct, UnsetType, field

from .ids import PROVISIONER_ID_PATTERN, WORKER_TYPE_PATTERN, exact

__all__ = [
    "CONFIG_TYPES",
    "CloudLifecycle",
    "DockerLaunchConfig",
    "DockerPoolConfig",
    "LaunchConfig",
    "PoolConfig",
    "PoolFileEntry",
    "PoolFileError",
    "ProcessLaunchConfig",
    "ProcessPoolConfig",
    "StaticLifecycle",
    "StaticPoolConfig",
    "WorkerManagerSection",
    "parse_pools_file",
]

DEFAULT_REREGISTRATION_S = 345_600  # 4 days, also the lifetime of a worker's credentials
MAX_REREGISTRATION_S = 2_592_000  # 30 days

_POOL_ID = re.compile(exact(PROVISIONER_ID_PATTERN[:-1] + "/" + WORKER_TYPE_PATTERN[1:]))

Reregistration = Annotated[int, Meta(ge=1, le=MAX_REREGISTRATION_S)]


class _Config(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    pass


class StaticLifecycle(_Config, kw_only=True):
    reregistration_timeout: Reregistration = DEFAULT_REREGISTRATION_S


class StaticPoolConfig(_Config, kw_only=True):
    lifecycle: StaticLifecycle = field(default_factory=StaticLifecycle)
    worker_config: dict[str, Any] = field(default_factory=dict)


class CloudLifecycle(_Config, kw_only=True):
    registration_timeout: Annotated[int, Meta(ge=1)] = 1800
    reregistration_timeout: Reregistration = DEFAULT_REREGISTRATION_S
    # Taskcluster's minimum is 1200 s; infrax accepts shorter ones (small local pools, tests).
    queue_inactivity_timeout: Annotated[int, Meta(ge=1)] = 7200


class WorkerManagerSection(_Config, kw_only=True):
    launch_config_id: Annotated[str, Meta(pattern=r"^[a-zA-Z0-9-_]{1,38}$")] | UnsetType = UNSET
    capacity_per_instance: Annotated[int, Meta(ge=1)] = 1
    initial_weight: Annotated[float, Meta(ge=0, le=1)] = 1.0
    max_capacity: Annotated[int, Meta(ge=0)] | UnsetType = UNSET


class LaunchConfig(_Config, kw_only=True):
    worker_manager: WorkerManagerSection = field(default_factory=WorkerManagerSection)
    worker_config: dict[str, Any] = field(default_factory=dict)


class ProcessLaunchConfig(LaunchConfig, kw_only=True):
    # The command that starts the worker (default: this installation's `infrax worker`).
    command: list[str] | UnsetType = UNSET
    env: dict[str, str] = field(default_factory=dict)  # more variables for the worker


class DockerLaunchConfig(LaunchConfig, kw_only=True):
    # The worker image (default: the one built locally from this installation).
    image: str | UnsetType = UNSET
    network: str = "host"  # "host": the worker reaches a queue on 127.0.0.1
    env: dict[str, str] = field(default_factory=dict)  # more variables for the worker
    docker_socket: bool = False  # mount the engine's socket (for workerConfig engine: docker)


class _CloudConfig(_Config, kw_only=True):
    min_capacity: Annotated[int, Meta(ge=0)]
    max_capacity: Annotated[int, Meta(ge=0)]
    scaling_ratio: Annotated[float, Meta(ge=0, le=1)] = 1.0
    lifecycle: CloudLifecycle = field(default_factory=CloudLifecycle)


class ProcessPoolConfig(_CloudConfig, kw_only=True):
    launch_configs: list[ProcessLaunchConfig] = field(
        default_factory=lambda: [ProcessLaunchConfig()]
    )


class DockerPoolConfig(_CloudConfig, kw_only=True):
    launch_configs: list[DockerLaunchConfig] = field(default_factory=lambda: [DockerLaunchConfig()])


PoolConfig = StaticPoolConfig | ProcessPoolConfig | DockerPoolConfig

# provider type -> the schema of its pools' config
CONFIG_TYPES: dict[str, type[PoolConfig]] = {
    "static": StaticPoolConfig,
    "process": ProcessPoolConfig,
    "docker": DockerPoolConfig,
}


class PoolFileEntry(_Config, kw_only=True):
    """One pool of a pools file: createWorkerPool's request with friendlier defaults."""

    provider_id: Annotated[str, Meta(pattern=r"^[a-zA-Z0-9-_]{1,38}$")]
    config: dict[str, Any]
    description: Annotated[str, Meta(max_length=10240)] = ""
    owner: Annotated[str, Meta(max_length=255)] = ""
    email_on_error: bool = False


class PoolFileError(ValueError):
    """A pools file that cannot be used; the message names the pool and the field."""


def parse_pools_file(text: str) -> dict[str, PoolFileEntry]:
    """A YAML (or JSON) mapping `{workerPoolId: {providerId, config, description?, owner?,
    emailOnError?}}` (protocol.md, "Pools file"). Each config is checked later, against its
    provider's schema."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PoolFileError(f"not YAML: {error}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise PoolFileError("the file must map worker pool ids to pool definitions")
    pools = {}
    for pool_id, body in loaded.items():
        if not isinstance(pool_id, str) or not _POOL_ID.match(pool_id):
            raise PoolFileError(f"{pool_id!r} is not a worker pool id (PROVISIONER/WORKER-TYPE)")
        try:
            pools[pool_id] = msgspec.convert(body, PoolFileEntry)
        except msgspec.ValidationError as error:
            raise PoolFileError(
                f"{pool_id}: {str(error).replace('$', '$.' + pool_id, 1)}"
            ) from None
    return pools
