"""The Worker-Manager v1 table bound to the provisioner's handlers (clients/serving)."""

from __future__ import annotations

from clients.protocol.worker_manager_endpoints import WORKER_MANAGER_ENDPOINTS
from clients.serving import Call, HandlerTable, errors

from .keys import VERIFIER

__all__ = ["TABLE", "Call", "bind", "errors", "handles"]

TABLE = HandlerTable(WORKER_MANAGER_ENDPOINTS, VERIFIER)
handles = TABLE.handles
bind = TABLE.bind
