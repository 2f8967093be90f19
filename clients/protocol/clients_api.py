"""Wire types of the client-management subset of Taskcluster's Auth v1 (protocol.md, "Auth")."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "AuthenticateHawkRequest",
    "AuthenticateHawkResponse",
    "Client",
    "ClientWithToken",
    "CreateClientRequest",
    "CurrentScopesResponse",
    "ListClientsResponse",
]


class CreateClientRequest(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    expires: str
    description: Annotated[str, Meta(max_length=10240)] = ""
    scopes: list[Annotated[str, Meta(pattern=r"^[\x20-\x7e]*\Z")]] = []
    delete_on_expiration: bool = False


class Client(Struct, kw_only=True, rename="camel"):
    client_id: str
    description: str
    expires: str
    created: str
    last_modified: str
    last_date_used: str
    last_rotated: str
    scopes: list[str]
    expanded_scopes: list[str]
    disabled: bool
    delete_on_expiration: bool


class ClientWithToken(Client, kw_only=True):
    access_token: str


class ListClientsResponse(Struct, kw_only=True, rename="camel"):
    clients: list[Client]
    continuation_token: str | UnsetType = UNSET


class CurrentScopesResponse(Struct, kw_only=True, rename="camel"):
    scopes: list[str]


class AuthenticateHawkRequest(Struct, kw_only=True, forbid_unknown_fields=True, rename="camel"):
    """A request another service received, for the queue to verify (Auth v1 authenticateHawk)."""

    method: Annotated[str, Meta(min_length=1, max_length=16)]
    resource: Annotated[str, Meta(max_length=8192)]
    host: Annotated[str, Meta(max_length=1024)]
    port: Annotated[int, Meta(ge=0, le=65535)]
    authorization: str | UnsetType = UNSET
    source_ip: str | UnsetType = UNSET


class AuthenticateHawkResponse(Struct, kw_only=True, rename="camel", omit_defaults=True):
    status: Literal["auth-success", "auth-failed", "no-auth"]
    scheme: str | UnsetType = UNSET
    client_id: str | UnsetType = UNSET
    scopes: list[str] | UnsetType = UNSET
    expires: str | UnsetType = UNSET
    hash: str | UnsetType = UNSET
    message: str | UnsetType = UNSET
