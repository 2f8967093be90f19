"""Health endpoints: no authentication, no scopes (protocol.md, "Health")."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

from clients.protocol import queues as q
from clients.protocol.errors import ApiError, ErrorCode

from ..dispatch import Call, handles
from ..keys import STORE

__all__: list[str] = []

_STARTED = time.monotonic()


def server_version() -> str:
    try:
        return version("infrax")
    except PackageNotFoundError:
        return "0.0.0"


@handles("ping")
async def ping(call: Call) -> q.PingResponse:
    return q.PingResponse(alive=True, uptime=round(time.monotonic() - _STARTED, 3))


@handles("lbheartbeat")
async def lbheartbeat(call: Call) -> q.HeartbeatResponse:
    return q.HeartbeatResponse()


@handles("heartbeat")
async def heartbeat(call: Call) -> q.HeartbeatResponse:
    try:
        healthy = await call.app[STORE].healthy()
    except Exception:
        healthy = False
    if not healthy:
        raise ApiError(ErrorCode.internal_server_error, "the database does not answer")
    return q.HeartbeatResponse()


@handles("version")
async def version_info(call: Call) -> q.VersionResponse:
    return q.VersionResponse(source="https://github.com/infrax/infrax", version=server_version())
