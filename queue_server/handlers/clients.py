"""Handlers of the client-management subset of Auth v1 (protocol.md, "Clients")."""

from __future__ import annotations

from msgspec import UNSET

from clients import hawk
from clients.protocol import clients_api as a
from clients.protocol.errors import ApiError, conflict, input_error, not_found
from clients.protocol.times import format_ms, parse_time

from ..core.pages import page_from_query
from ..core.tokens import derive_token, new_salt
from ..dispatch import AUTHENTICATOR, Call, handles
from ..keys import SECRETS, STORE
from ..secrets import ROOT_CLIENT_ID
from ..store.client_txns import ClientRow

__all__: list[str] = []

RESERVED_PREFIXES = ("static/", "task-client/")


def _client(call: Call, row: ClientRow) -> a.Client:
    return a.Client(
        client_id=row.client_id,
        description=row.description,
        expires=format_ms(row.expires),
        created=format_ms(row.created),
        last_modified=format_ms(row.last_modified),
        last_date_used=format_ms(row.last_date_used),
        last_rotated=format_ms(row.last_rotated),
        scopes=list(row.scopes),
        expanded_scopes=list(row.scopes),
        disabled=row.disabled,
        delete_on_expiration=row.delete_on_expiration,
    )


def _with_token(call: Call, row: ClientRow) -> a.ClientWithToken:
    token = derive_token(call.app[SECRETS].secret_key, row.client_id, row.salt)
    return a.ClientWithToken(
        **{f: getattr(_client(call, row), f) for f in a.Client.__struct_fields__},
        access_token=token,
    )


async def _row(call: Call) -> ClientRow:
    row = await call.app[STORE].get_client(call.params["clientId"])
    if row is None:
        raise not_found(f"client {call.params['clientId']} not found")
    return row


@handles("createClient")
async def create_client(call: Call) -> a.ClientWithToken:
    request: a.CreateClientRequest = call.body
    client_id = call.params["clientId"]
    call.authorize(scopes=request.scopes)
    if client_id == ROOT_CLIENT_ID or client_id.startswith(RESERVED_PREFIXES):
        raise input_error(f"clientId {client_id!r} is reserved")
    try:
        expires = parse_time(request.expires)
    except ValueError:
        raise input_error("`expires` is not a valid date-time", path="$.expires") from None
    now = call.now_ms()
    row = ClientRow(
        client_id=client_id,
        description=request.description,
        scopes=sorted(set(request.scopes)),
        salt=new_salt(),
        created=now,
        last_modified=now,
        last_rotated=now,
        last_date_used=now,
        expires=expires,
        disabled=False,
        delete_on_expiration=request.delete_on_expiration,
    )
    if not await call.app[STORE].create_client(row):
        raise conflict(f"client {client_id} already exists")
    call.app[AUTHENTICATOR].forget(client_id)
    return _with_token(call, row)


@handles("client")
async def client(call: Call) -> a.Client:
    call.authorize()
    return _client(call, await _row(call))


@handles("listClients")
async def list_clients(call: Call) -> a.ListClientsResponse:
    call.authorize()
    rows, token = await call.app[STORE].list_clients(
        call.request.query.get("prefix", ""), page_from_query(call.request.query)
    )
    reply = a.ListClientsResponse(clients=[_client(call, row) for row in rows])
    if token is not None:
        reply.continuation_token = token
    return reply


@handles("resetAccessToken")
async def reset_access_token(call: Call) -> a.ClientWithToken:
    call.authorize()
    await _row(call)
    row = await call.app[STORE].reset_client(call.params["clientId"], new_salt(), call.now_ms())
    if row is None:
        raise not_found(f"client {call.params['clientId']} not found")
    call.app[AUTHENTICATOR].forget(row.client_id)
    return _with_token(call, row)


@handles("deleteClient")
async def delete_client(call: Call) -> None:
    call.authorize()
    await call.app[STORE].delete_client(call.params["clientId"])
    call.app[AUTHENTICATOR].forget(call.params["clientId"])


@handles("currentScopes")
async def current_scopes(call: Call) -> a.CurrentScopesResponse:
    call.authorize()
    return a.CurrentScopesResponse(scopes=list(call.caller.scopes.scopes))


@handles("authenticateHawk")
async def authenticate_hawk(call: Call) -> a.AuthenticateHawkResponse:
    """Verify for another service (the scheduler): MAC, time, certificate, authorizedScopes.

    The payload hash is returned for the caller to check against the body it holds.
    """
    request: a.AuthenticateHawkRequest = call.body
    facts = hawk.RequestFacts(request.method.upper(), request.host, request.port, request.resource)
    header = request.authorization if request.authorization is not UNSET else None
    try:
        verified = await call.app[AUTHENTICATOR].verify(facts, header or None)
    except ApiError as error:
        return a.AuthenticateHawkResponse(status="auth-failed", message=error.message)
    reply = a.AuthenticateHawkResponse(
        status="no-auth" if verified.anonymous else "auth-success",
        scheme="none" if verified.anonymous else "hawk",
        scopes=list(verified.caller.scopes.scopes),
        expires=format_ms(verified.expires_ms),
    )
    if not verified.anonymous:
        reply.client_id = verified.caller.client_id
    if verified.payload_hash is not None:
        reply.hash = verified.payload_hash
    return reply
