"""Images for the Docker engine: pulling a missing image (progress in the task log) and saving
a finished container as a `docker load` tarball (features.dockerSave)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker.errors
from docker.utils import parse_repository_tag

from ..errors import MalformedPayload, ResourceUnavailable
from ..tasklog import TaskLog

if TYPE_CHECKING:
    from .docker import DockerEngine, DockerExecution

__all__ = ["ensure_image", "save_container"]

PULL_ATTEMPTS = 3
PROGRESS_EVERY_S = 2.0
# What a registry answers for a name it does not have: the payload names something that does
# not exist (protocol.md, "reasonResolved"), so retrying would not help.
_ABSENT = ("not found", "manifest unknown", "pull access denied", "does not exist", "unauthorized")


async def ensure_image(engine: DockerEngine, image: str, log: TaskLog) -> None:
    """Use the local image, or pull it; MalformedPayload when the registry does not have it."""
    try:
        await engine.call("looking up the image", engine.client.images.get, image)
        return
    except MalformedPayload as error:  # a 4xx: absent (pull it) or an invalid name
        if not isinstance(error.__cause__, docker.errors.ImageNotFound):
            raise
    loop = asyncio.get_running_loop()

    def say(text: str) -> None:
        loop.call_soon_threadsafe(log.line, text)

    log.line(f"pulling image {image}")
    for attempt in range(1, PULL_ATTEMPTS + 1):
        try:
            await engine.call("pulling the image", _pull, engine, image, say)
            log.line(f"pulled image {image}")
            return
        except (ResourceUnavailable, MalformedPayload) as error:
            reason = str(error.__cause__ or error)
            if any(text in reason.lower() for text in _ABSENT):
                raise MalformedPayload(f"image {image} does not exist: {reason}") from None
            if attempt == PULL_ATTEMPTS:
                raise ResourceUnavailable(f"could not pull image {image}: {reason}") from None
            log.line(f"pulling image {image} failed ({reason}); trying again")


def _pull(engine: DockerEngine, image: str, say: Callable[[str], None]) -> None:
    """Pull, saying a progress line per layer state change (and at most every 2 s)."""
    repository, tag = parse_repository_tag(image)
    last: dict[str, str] = {}
    shown = 0.0
    events = engine.client.api.pull(repository, tag or "latest", stream=True, decode=True)
    for event in _events(events):
        if "error" in event:
            raise docker.errors.APIError(str(event["error"]))
        layer, status = str(event.get("id", "")), str(event.get("status", ""))
        now = time.monotonic()
        if last.get(layer) != status or now - shown >= PROGRESS_EVERY_S:
            last[layer], shown = status, now
            progress = event.get("progress", "")
            say(f"{layer + ': ' if layer else ''}{status} {progress}".rstrip())


def _events(stream: Any) -> Iterator[dict[str, Any]]:
    for event in stream:
        if isinstance(event, dict):
            yield event


async def save_container(execution: DockerExecution, into: Path) -> None:
    """Commit the stopped container and write `docker save` of it to `into`."""
    engine, container = execution.engine, execution.container
    name = container.name or container.id or "task"
    repository, tag = "infrax-saved", name.lower()
    image = await engine.call("committing the container", container.commit, repository, tag)
    try:
        await engine.call("saving the image", _save, engine, f"{repository}:{tag}", into)
    finally:
        await engine.call("removing the saved image", _remove_image, engine, image.id)


def _save(engine: DockerEngine, reference: str, into: Path) -> None:
    with into.open("wb") as out:
        for chunk in engine.client.api.get_image(reference):
            out.write(chunk)


def _remove_image(engine: DockerEngine, image_id: str | None) -> None:
    if image_id:
        with contextlib.suppress(docker.errors.NotFound):
            engine.client.images.remove(image_id, force=True)
