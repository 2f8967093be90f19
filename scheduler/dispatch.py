"""The Hooks v1 table bound to the scheduler's handlers (clients/serving, protocol.md "Hooks")."""

from __future__ import annotations

from clients.protocol.hook_endpoints import HOOK_ENDPOINTS
from clients.serving import Call, HandlerTable, errors

from .keys import VERIFIER

__all__ = ["TABLE", "Call", "bind", "errors", "handles"]

TABLE = HandlerTable(HOOK_ENDPOINTS, VERIFIER)
handles = TABLE.handles
bind = TABLE.bind
