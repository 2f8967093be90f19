"""The typed client of the Auth v1 subset the queue serves (protocol.md, "Auth")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

from ..protocol import clients_api as a
from .service import Body, ServiceClient

__all__ = ["Auth"]


class Auth(ServiceClient):
    """An async client of ``<rootUrl>/api/auth/v1``: stored clients and the caller's scopes."""

    service: ClassVar[str] = "auth"

    async def list_clients(
        self,
        *,
        prefix: str | None = None,
        continuation_token: str | None = None,
        limit: int | None = None,
    ) -> a.ListClientsResponse:
        """One page of the stored clients, optionally those whose id starts with ``prefix``."""
        query = {"prefix": prefix, "continuationToken": continuation_token, "limit": limit}
        return await self._call("listClients", a.ListClientsResponse, {}, None, query)

    def iter_list_clients(
        self, *, prefix: str | None = None, limit: int | None = None
    ) -> AsyncIterator[a.Client]:
        """Every stored client (whose id starts with ``prefix``)."""
        return self._paginate(
            lambda token: self.list_clients(prefix=prefix, continuation_token=token, limit=limit),
            lambda page: page.clients,
        )

    async def client(self, client_id: str) -> a.Client:
        """One stored client (never its access token)."""
        return await self._call("client", a.Client, {"clientId": client_id})

    async def create_client(
        self, client_id: str, client: a.CreateClientRequest | Body
    ) -> a.ClientWithToken:
        """Create a client; the answer holds its access token, shown this once."""
        return await self._call("createClient", a.ClientWithToken, {"clientId": client_id}, client)

    async def reset_access_token(self, client_id: str) -> a.ClientWithToken:
        """Give a client a new access token; the old one stops working."""
        return await self._call("resetAccessToken", a.ClientWithToken, {"clientId": client_id})

    async def delete_client(self, client_id: str) -> None:
        """Delete a client (succeeds if it does not exist)."""
        await self._call_empty("deleteClient", {"clientId": client_id})

    async def current_scopes(self) -> a.CurrentScopesResponse:
        """The caller's scopes, expanded."""
        return await self._call("currentScopes", a.CurrentScopesResponse)

    async def authenticate_hawk(
        self, request: a.AuthenticateHawkRequest | Body
    ) -> a.AuthenticateHawkResponse:
        """Have the queue verify a Hawk-signed request another service received."""
        return await self._call("authenticateHawk", a.AuthenticateHawkResponse, {}, request)
