"""What only the Docker engine does: caches, dockerSave, images that cannot be had,
resource figures, scopes for caches."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.conftest import RunningQueue
from tests.registry import Registry, running_registry
from tests.workers import (
    artifact_bytes,
    create,
    docker_payload,
    outcome,
    resolution,
    running_worker,
    task_log,
    worker_settings,
)
from worker.features.caches import volume_name

pytestmark = pytest.mark.docker


async def test_a_cache_persists_between_tasks_and_is_purged_on_a_listed_exit_code(
    queue: RunningQueue, tmp_path: Path, busybox_image: str, docker_client: docker.DockerClient
) -> None:
    settings = worker_settings(queue, tmp_path, "docker")
    scopes = ["docker-worker:cache:scratch"]
    cache = {"cache": {"scratch": "/cache"}, "onExitStatus": {"purgeCaches": [7]}}
    read = "cat /cache/stamp 2>/dev/null || echo no-stamp"
    async with running_worker(settings):
        first = await create(
            queue,
            "docker",
            docker_payload(busybox_image, "echo $TASK_ID > /cache/stamp", **cache),
            scopes=scopes,
        )
        await resolution(queue, first)
        second = await create(
            queue,
            "docker",
            docker_payload(busybox_image, f"{read}; exit 7", **cache),
            scopes=scopes,
        )
        purged = await resolution(queue, second)
        third = await create(
            queue, "docker", docker_payload(busybox_image, read, **cache), scopes=scopes
        )
        await resolution(queue, third)
    assert outcome(purged) == ("failed", "failed")
    assert f"\n{first}\n" in task_log(settings, second)
    assert "cache scratch purged (exit code 7)" in task_log(settings, second)
    assert "\nno-stamp\n" in task_log(settings, third)
    docker_client.volumes.get(volume_name(settings.cache_prefix, "scratch", 0)).remove(force=True)


async def test_a_cache_needs_its_scope(
    queue: RunningQueue, tmp_path: Path, busybox_image: str
) -> None:
    settings = worker_settings(queue, tmp_path, "docker")
    task_payload = docker_payload(busybox_image, "true", cache={"secret-cache": "/cache"})
    async with running_worker(settings):
        task_id = await create(queue, "docker", task_payload)
        message = await resolution(queue, task_id)
    assert outcome(message) == ("exception", "malformed-payload")
    assert "the task lacks the scopes docker-worker:cache:secret-cache" in task_log(
        settings, task_id
    )


async def test_docker_save_uploads_a_loadable_image_of_the_finished_container(
    queue: RunningQueue, tmp_path: Path, busybox_image: str, docker_client: docker.DockerClient
) -> None:
    settings = worker_settings(queue, tmp_path, "docker")
    task_payload = docker_payload(
        busybox_image, "echo left-behind > /work/result", features={"dockerSave": True}
    )
    async with running_worker(settings):
        task_id = await create(queue, "docker", task_payload)
        message = await resolution(queue, task_id)
    assert outcome(message) == ("completed", "completed")
    tarball = artifact_bytes(settings, task_id, 0, "public/dockerImage.tar")
    [image] = docker_client.images.load(tarball)
    try:
        output = docker_client.containers.run(image.id, ["cat", "/work/result"], remove=True)
        assert output == b"left-behind\n"
    finally:
        docker_client.images.remove(image.id, force=True)


@pytest.fixture
async def registry() -> AsyncIterator[Registry]:
    async with running_registry() as running:
        yield running


async def test_a_missing_image_is_pulled_with_progress_in_the_log(
    queue: RunningQueue,
    tmp_path: Path,
    busybox_image: str,
    registry: Registry,
    docker_client: docker.DockerClient,
) -> None:
    tag = uuid.uuid4().hex[:12]
    # An image with a layer of its own, so that the pull has something to download.
    container = docker_client.containers.create(busybox_image, ["sh", "-c", f"echo {tag} > /tag"])
    container.start()
    container.wait()
    local = container.commit("infrax-test/to-publish", tag)
    container.remove()
    reference = await asyncio.to_thread(
        registry.publish, docker_client, local.id, "infrax-test/pulled", tag
    )
    docker_client.images.remove(local.id, force=True)
    settings = worker_settings(queue, tmp_path, "docker")
    try:
        async with running_worker(settings):
            task_id = await create(queue, "docker", docker_payload(reference, "echo from-pulled"))
            message = await resolution(queue, task_id)
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(reference, force=True)
    assert outcome(message) == ("completed", "completed")
    log = task_log(settings, task_id)
    assert f"pulling image {reference}" in log
    assert "Pull complete" in log
    assert "Downloaded newer image" in log
    assert f"pulled image {reference}" in log
    assert "\nfrom-pulled\n" in log


async def test_an_image_that_does_not_exist_is_a_malformed_payload(
    queue: RunningQueue, tmp_path: Path, busybox_image: str, registry: Registry
) -> None:
    settings = worker_settings(queue, tmp_path, "docker")
    missing = f"{registry.host}/nobody/nothing:1"
    async with running_worker(settings):
        task_id = await create(queue, "docker", docker_payload(missing, "true"))
        message = await resolution(queue, task_id)
    assert outcome(message) == ("exception", "malformed-payload")
    log = task_log(settings, task_id)
    assert f"pulling image {missing}" in log
    assert f"image {missing} does not exist" in log


async def test_a_registry_that_does_not_answer_is_resource_unavailable(
    queue: RunningQueue, tmp_path: Path, busybox_image: str
) -> None:
    settings = worker_settings(queue, tmp_path, "docker")
    async with running_worker(settings):
        task_id = await create(queue, "docker", docker_payload("127.0.0.1:1/any/image:1", "true"))
        message = await resolution(queue, task_id)
    assert outcome(message) == ("exception", "resource-unavailable")
    assert "could not pull image 127.0.0.1:1/any/image:1" in task_log(settings, task_id)


async def test_resource_use_is_sampled_into_the_log_and_resources_json(
    queue: RunningQueue, tmp_path: Path, busybox_image: str
) -> None:
    settings = worker_settings(queue, tmp_path, "docker", sample_interval_s=0.2)
    script = "head -c 20000000 /dev/zero > /tmp/fill; sleep 3"
    async with running_worker(settings):
        task_id = await create(queue, "docker", docker_payload(busybox_image, script))
        await resolution(queue, task_id)
    document = json.loads(artifact_bytes(settings, task_id, 0, "public/logs/resources.json"))
    assert document["samples"]
    assert (
        document["peakMemoryBytes"] >= 20_000_000
    )  # the file in /tmp counts (tmpfs or page cache)
    assert "resources: CPU" in task_log(settings, task_id)
