"""Pool definitions: the provider's config schema, launch configs, worker configs, scopes.

Pure (protocol.md, "Pool configs", "Worker registration"). A pool's `config` is stored as it
was given (so a pool read back can be edited and sent again) and decoded here, against the
schema of its provider's type, each time it is used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import msgspec

from clients.protocol.errors import ApiError, ErrorCode, input_error
from clients.protocol.pool_config import (
    CONFIG_TYPES,
    DockerPoolConfig,
    LaunchConfig,
    PoolConfig,
    ProcessPoolConfig,
    StaticPoolConfig,
)

__all__ = [
    "NULL_PROVIDER",
    "Launchable",
    "decode_config",
    "launchables",
    "worker_client_id",
    "worker_config",
    "worker_scopes",
]

NULL_PROVIDER = "null-provider"  # a deleted pool, waiting for its workers to be gone
# Worker settings a process or docker worker gets unless its workerConfig says otherwise. No
# idle timeout: surplus idle workers are told to go (shouldWorkerTerminate), while those the
# pool's minCapacity needs stay; a pool may set `idleTimeout` for workers to also leave alone.
DEFAULT_WORKER_CONFIG: dict[str, Any] = {"engine": "process"}


def decode_config(provider_type: str, config: dict[str, Any]) -> PoolConfig:
    """The config checked against its provider's schema; 400 naming the bad field if not."""
    kind = CONFIG_TYPES[provider_type]
    try:
        decoded = msgspec.convert(config, kind)
    except msgspec.ValidationError as error:
        raise ApiError(
            ErrorCode.input_validation_error,
            f"config does not fit the {provider_type} provider: {_under(str(error), '$.config')}",
        ) from None
    if isinstance(decoded, ProcessPoolConfig | DockerPoolConfig):
        if decoded.min_capacity > decoded.max_capacity:
            raise input_error("config: minCapacity must not exceed maxCapacity")
        ids = [item.launch_config_id for item in launchables("", decoded)]
        if len(set(ids)) != len(ids):
            raise input_error("config: two launch configs have the same launchConfigId")
    return decoded


def _under(message: str, path: str) -> str:
    """msgspec's message with its JSON path moved under `path` (`$.x` -> `$.config.x`)."""
    if "- at `$" in message:
        return message.replace("- at `$", f"- at `{path}", 1)
    return f"{message} - at `{path}`"


@dataclass(frozen=True)
class Launchable:
    launch_config_id: str
    config: LaunchConfig
    capacity_per_instance: int
    initial_weight: float
    max_capacity: int | None


def _launch_config_id(worker_pool_id: str, config: LaunchConfig) -> str:
    """Taskcluster's: `lc-` and 20 hex digits of md5(pool id, config without workerManager)."""
    body = msgspec.to_builtins(config)
    body.pop("workerManager", None)
    text = worker_pool_id + json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "lc-" + hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:20]


def launchables(worker_pool_id: str, config: PoolConfig) -> list[Launchable]:
    if isinstance(config, StaticPoolConfig):
        return []
    found = []
    for item in config.launch_configs:
        manager = item.worker_manager
        given = manager.launch_config_id
        found.append(
            Launchable(
                launch_config_id=given
                if isinstance(given, str)
                else _launch_config_id(worker_pool_id, item),
                config=item,
                capacity_per_instance=manager.capacity_per_instance,
                initial_weight=manager.initial_weight,
                max_capacity=manager.max_capacity
                if isinstance(manager.max_capacity, int)
                else None,
            )
        )
    return found


def worker_config(
    config: PoolConfig, launchable: Launchable | None, capacity: int
) -> dict[str, Any]:
    """What registerWorker hands the worker: static pools' workerConfig as given; for launched
    workers the launch config's over the defaults, with the capacity it was launched for."""
    if isinstance(config, StaticPoolConfig):
        return dict(config.worker_config)
    if launchable is None:  # its launch config was dropped from the pool meanwhile
        return {**DEFAULT_WORKER_CONFIG, "capacity": capacity}
    given = launchable.config.worker_config
    merged = {k: v for k, v in DEFAULT_WORKER_CONFIG.items() if not _has(given, k)}
    merged.update(given)
    merged["capacity"] = capacity
    return merged


def _has(config: dict[str, Any], key: str) -> bool:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
    return key in config or snake in config or snake.replace("_", "-") in config


def worker_client_id(provider_id: str, pool: str, group: str, worker_id: str) -> str:
    return f"worker/{provider_id}/{pool}/{group}/{worker_id}"


def worker_scopes(pool: str, group: str, worker_id: str) -> list[str]:
    """The scopes of a registered worker's credentials (Taskcluster's, reference 6.4)."""
    worker = f"{pool}/{group}/{worker_id}"
    return [
        f"assume:worker-type:{pool}",
        f"assume:worker-pool:{pool}",
        f"assume:worker-id:{group}/{worker_id}",
        f"queue:worker-id:{group}/{worker_id}",
        f"queue:claim-work:{pool}",
        f"queue:declare-worker:{worker}#*",
        f"secrets:get:worker-type:{pool}",
        f"secrets:get:worker-pool:{pool}",
        f"worker-manager:remove-worker:{worker}",
        f"worker-manager:reregister-worker:{worker}",
        f"worker-manager:should-worker-terminate:{worker}",
    ]
