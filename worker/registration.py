"""Registration with a provisioner (protocol.md, "Worker registration").

A worker started by a provider, or a machine of a static pool, proves who it is with its
secret (`registerWorker`, proof `{staticSecret}`), and gets temporary credentials scoped to its
pool and id, the pool's workerConfig (applied over its settings) and a one-time secret for
`reregisterWorker`. While it runs, `keep_registered` trades that secret for fresh credentials
before they expire, and asks `shouldWorkerTerminate`; a yes stops the daemon gracefully.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from clients import hawk
from clients.client import ClientError, Options, Queue, WorkerManager
from clients.protocol.times import parse_time
from clients.protocol.worker_manager import WorkerCredentials

from .errors import WorkerError
from .settings import Settings, SettingsError, with_worker_config

__all__ = ["Registration", "keep_registered", "register", "reregister_at_s"]

logger = logging.getLogger("infrax.worker.registration")


@dataclass
class Registration:
    manager: WorkerManager  # signs with the worker's current credentials
    expires_s: float
    secret: str


def _credentials(given: WorkerCredentials) -> hawk.Credentials:
    certificate = given.certificate if isinstance(given.certificate, str) else None
    return hawk.Credentials(given.client_id, given.access_token, certificate)


def reregister_at_s(expires_s: float, now_s: float) -> float:
    """When to reregister (pure): with a quarter of the lifetime left, at least 30 s early,
    but never before half of it has passed (short lifetimes)."""
    left = expires_s - now_s
    return now_s + max(0.0, left - min(max(30.0, left / 4), left / 2))


async def register(settings: Settings) -> tuple[Registration, Settings]:
    """Register; the settings come back with the credentials and the pool's workerConfig."""
    assert settings.provisioner_url and settings.registration_secret
    manager = WorkerManager(Options(settings.provisioner_url, None))
    request = {
        "workerPoolId": settings.task_queue_id,
        "providerId": settings.provider_id,
        "workerGroup": settings.worker_group,
        "workerId": settings.worker_id,
        "workerIdentityProof": {"staticSecret": settings.registration_secret},
    }
    try:
        answer = await manager.register_worker(request)
    except ClientError as error:
        await manager.close()
        raise WorkerError(f"registration with {settings.provisioner_url} failed: {error}") from None
    credentials = _credentials(answer.credentials)
    try:
        configured, ignored = with_worker_config(settings, answer.worker_config)
    except SettingsError as error:
        await manager.close()
        raise WorkerError(f"the pool's workerConfig is unusable: {error}") from None
    if ignored:
        logger.warning("worker_config_ignored", extra={"reason": ", ".join(sorted(ignored))})
    configured = dataclasses.replace(
        configured,
        client_id=credentials.client_id,
        access_token=credentials.access_token,
        certificate=credentials.certificate,
    )
    manager.use_credentials(credentials)
    logger.info("registered", extra={"worker_id": settings.worker_id, "reason": answer.expires})
    return Registration(manager, parse_time(answer.expires) / 1000, answer.secret), configured


async def keep_registered(
    registration: Registration, settings: Settings, queue: Queue, stop: Callable[[], None]
) -> None:
    """Reregister before the credentials lapse and stop when told to terminate; runs until
    cancelled (or until it has asked the daemon to stop)."""
    manager = registration.manager
    try:
        while True:
            due = reregister_at_s(registration.expires_s, time.time())
            await asyncio.sleep(max(0.0, min(due - time.time(), settings.terminate_check_s)))
            if time.time() >= due:
                await _reregister(registration, settings, queue)
            elif await _should_terminate(manager, settings):
                stop()
                return
    finally:
        await manager.close()


async def _reregister(registration: Registration, settings: Settings, queue: Queue) -> None:
    request = {
        "workerPoolId": settings.task_queue_id,
        "workerGroup": settings.worker_group,
        "workerId": settings.worker_id,
        "secret": registration.secret,
    }
    try:
        answer = await registration.manager.reregister_worker(request)
    except ClientError as error:
        pause = 5.0 + 5.0 * random.random()
        logger.warning("reregister_failed", extra={"reason": f"{error}; again in {pause:.0f} s"})
        await asyncio.sleep(pause)
        return
    credentials = _credentials(answer.credentials)
    registration.manager.use_credentials(credentials)
    queue.use_credentials(credentials)
    registration.expires_s = parse_time(answer.expires) / 1000
    registration.secret = answer.secret
    logger.info("reregistered", extra={"worker_id": settings.worker_id, "reason": answer.expires})


async def _should_terminate(manager: WorkerManager, settings: Settings) -> bool:
    try:
        answer = await manager.should_worker_terminate(
            settings.task_queue_id, settings.worker_group, settings.worker_id
        )
    except ClientError as error:
        logger.info("terminate_check_failed", extra={"reason": str(error)})
        return False
    if answer.terminate:
        logger.info("terminating", extra={"reason": answer.reason})
    return answer.terminate
