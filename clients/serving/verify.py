"""Who calls a service: the queue verifies each request (protocol.md, "Auth", "Hooks").

The service (the scheduler, the provisioner) holds no secret of anyone. For every
authenticated call it sends the signed facts (method, raw target, host, port, Authorization)
to the queue's Auth v1 `authenticateHawk` and gets back the caller's expanded scopes, so it
accepts exactly the clients, temporary credentials, authorizedScopes and roles the queue
accepts. The queue never sees the body: the service checks the payload hash itself.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from .. import hawk
from ..client import Auth, ClientError
from ..protocol.calls import signed_host_and_port
from ..protocol.clients_api import AuthenticateHawkRequest
from ..protocol.errors import ApiError, ErrorCode
from ..protocol.scopes import ScopeSet

__all__ = ["Caller", "QueueVerifier"]


class Caller:
    __slots__ = ("client_id", "scopes")

    def __init__(self, client_id: str, scopes: ScopeSet) -> None:
        self.client_id = client_id
        self.scopes = scopes


class QueueVerifier:
    def __init__(self, auth: Auth) -> None:
        self._auth = auth

    async def authenticate(self, request: web.Request, body: bytes) -> Caller:
        host, port = signed_host_and_port(
            request.headers.get("Host", request.host),
            request.headers.get("X-Forwarded-Port"),
            request.headers.get("X-Forwarded-Proto"),
            request.scheme,
        )
        header = request.headers.get("Authorization")
        ask = AuthenticateHawkRequest(
            method=request.method, resource=request.raw_path, host=host, port=port
        )
        if header:
            ask.authorization = header
        try:
            answer = await self._auth.authenticate_hawk(ask)
        except ClientError as error:
            raise ApiError(
                ErrorCode.internal_server_error,
                f"the queue could not verify the credentials: {error}",
            ) from None
        if answer.status == "auth-failed":
            raise ApiError(ErrorCode.authentication_failed, str(answer.message or "auth failed"))
        if isinstance(answer.hash, str):
            given = hawk.payload_hash(request.headers.get("Content-Type", ""), body)
            if not hmac.compare_digest(given, answer.hash):
                raise ApiError(
                    ErrorCode.authentication_failed, "payload hash does not match the request body"
                )
        client_id = answer.client_id if isinstance(answer.client_id, str) else ""
        scopes = answer.scopes if isinstance(answer.scopes, list) else []
        return Caller(client_id, ScopeSet(scopes))
