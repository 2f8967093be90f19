"""The host a worker runs on, as psutil sees it, and the per-task limits derived from it."""

from __future__ import annotations

import platform
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from clients.protocol.queues import DeclaredHost

from .engines.base import Limits
from .settings import Settings

__all__ = ["HostFacts", "host_facts", "limits_for"]

MIB = 2**20


@dataclass(frozen=True)
class HostFacts:
    hostname: str
    architecture: str
    system: str
    cpu_count: int
    memory_bytes: int
    disk_total_bytes: int
    disk_free_bytes: int

    def declared(self) -> DeclaredHost:
        """As declareWorker records it in the worker's record."""
        return DeclaredHost(**asdict(self))

    def describe(self) -> str:
        return (
            f"{self.hostname}: {self.system} {self.architecture}, {self.cpu_count} cores,"
            f" {self.memory_bytes / 2**30:.1f} GiB memory,"
            f" {self.disk_free_bytes / 2**30:.1f} of {self.disk_total_bytes / 2**30:.1f} GiB"
            " disk free"
        )


def host_facts(work_dir: Path) -> HostFacts:
    work_dir.mkdir(parents=True, exist_ok=True)
    disk = psutil.disk_usage(str(work_dir))
    return HostFacts(
        hostname=socket.gethostname(),
        architecture=platform.machine(),
        system=platform.system(),
        cpu_count=psutil.cpu_count() or 1,
        memory_bytes=psutil.virtual_memory().total,
        disk_total_bytes=disk.total,
        disk_free_bytes=disk.free,
    )


def limits_for(settings: Settings, facts: HostFacts) -> Limits:
    """Each task's share of the host unless the settings say otherwise (pure)."""
    memory = settings.memory_limit_mb * MIB or facts.memory_bytes // settings.capacity
    cpus = settings.cpu_limit or round(facts.cpu_count / settings.capacity, 2)
    return Limits(memory_bytes=memory, cpus=cpus)
