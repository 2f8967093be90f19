"""The providers a provisioner has, made from its settings (`--provider ID=TYPE`)."""

from __future__ import annotations

from ..settings import Settings
from .base import Provider
from .docker import DockerProvider
from .process import ProcessProvider
from .static import StaticProvider

__all__ = ["make_providers"]


def make_providers(settings: Settings) -> dict[str, Provider]:
    made: dict[str, Provider] = {}
    for provider_id, provider_type in settings.providers:
        if provider_type == "static":
            made[provider_id] = StaticProvider(provider_id)
        elif provider_type == "process":
            made[provider_id] = ProcessProvider(provider_id, settings.workers_dir)
        else:
            made[provider_id] = DockerProvider(provider_id, settings.docker_image)
    return made
