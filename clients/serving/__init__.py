"""What a service beside the queue needs to serve its endpoint table (protocol.md, "Hooks",
"Worker-manager").

The scheduler and the provisioner each serve one table of clients/protocol with aiohttp. Both
bind it the same way (`HandlerTable`: decode, authenticate, authorize, encode, Taskcluster's
error bodies) and both verify their callers through the queue's Auth v1 `authenticateHawk`
(`QueueVerifier`), so they accept exactly the credentials the queue accepts and hold no secret
of anyone.
"""

from __future__ import annotations

from .dispatch import Call, HandlerTable, errors
from .verify import Caller, QueueVerifier

__all__ = ["Call", "Caller", "HandlerTable", "QueueVerifier", "errors"]
