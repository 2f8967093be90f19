"""The health endpoints every service serves: `ping`, `heartbeat`, `lbheartbeat`.

No authentication and no scopes. `heartbeat` answers 500 when the service's own check (its
database answers) fails.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..protocol import queues as q
from ..protocol.errors import ApiError, ErrorCode
from .dispatch import Call, HandlerTable

__all__ = ["serve_health"]

_STARTED = time.monotonic()


def serve_health(
    table: HandlerTable, healthy: Callable[[web.Application], Awaitable[bool]]
) -> None:
    """Bind the three health endpoints of `table`; `healthy` checks the service's database."""

    @table.handles("ping")
    async def ping(call: Call) -> q.PingResponse:
        return q.PingResponse(alive=True, uptime=round(time.monotonic() - _STARTED, 3))

    @table.handles("lbheartbeat")
    async def lbheartbeat(call: Call) -> q.HeartbeatResponse:
        return q.HeartbeatResponse()

    @table.handles("heartbeat")
    async def heartbeat(call: Call) -> q.HeartbeatResponse:
        try:
            ok = await healthy(call.app)
        except Exception:
            ok = False
        if not ok:
            raise ApiError(ErrorCode.internal_server_error, "the database does not answer")
        return q.HeartbeatResponse()
