"""Who is calling: Hawk verification and the caller's expanded scopes (protocol.md, "Auth").

A request with no Authorization header and no bewit is anonymous. Every caller also holds
`assume:anonymous`. Scope checks themselves happen per endpoint, in dispatch.py.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import msgspec
from aiohttp import web

from clients import hawk
from clients.protocol.calls import signed_host_and_port
from clients.protocol.errors import ApiError, ErrorCode
from clients.protocol.scopes import RoleIndex, ScopeSet, expand, satisfies_all

from .core.tokens import QUEUE_ISSUER, derive_token
from .secrets import ROOT_CLIENT_ID, ServerSecrets
from .store.base import Store

__all__ = ["FAR_FUTURE_MS", "Authenticator", "Caller", "Verified"]

CLIENT_CACHE_S = 5.0
# Certificates whose signature was verified, with the key they sign with and their expanded
# scopes, by everything that verification depends on: the certificate (every field, the
# signature among them), the clientId it was presented with and the issuer's access token.
# Bounded: a run's credentials sign its reclaims, artifacts and report, then never again.
CERTIFICATE_CACHE_SIZE = 2048
# Expanded scope sets by the scopes they were expanded from: the roles are fixed for the
# server's life, so an expansion never goes stale. Bounded: a run's credentials are used a few
# times (reclaims, artifacts, its report) and then never again.
EXPANSION_CACHE_SIZE = 4096
HOST_CACHE_SIZE = 64


FAR_FUTURE_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z: credentials that do not expire


class Caller(msgspec.Struct, frozen=True):
    client_id: str  # "" for an anonymous caller
    scopes: ScopeSet


class Verified(msgspec.Struct, frozen=True):
    """A verified request: who calls, the payload hash left to check, when the creds expire."""

    caller: Caller
    payload_hash: str | None
    expires_ms: int
    anonymous: bool


class _Checked(msgspec.Struct, frozen=True):
    """A certificate that passed every check but the time (verify_certificate_times)."""

    key: str  # the temporary access token it signs with
    caller: Caller  # the clientId it came with, and its scopes expanded


# What a verified certificate depends on: itself, the clientId it came with, the issuer's token.
_CertificateKey = tuple[hawk.Certificate, str, str]


class _Issuer(msgspec.Struct, frozen=True):
    access_token: str
    scopes: ScopeSet  # expanded
    caller: Caller  # the client calling with its own credentials
    expires_ms: int = FAR_FUTURE_MS


def _failed(message: str) -> ApiError:
    return ApiError(ErrorCode.authentication_failed, message)


class Authenticator:
    def __init__(
        self,
        store: Store,
        secrets: ServerSecrets,
        anonymous_scopes: tuple[str, ...],
        roles: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._roles = RoleIndex({**(roles or {}), "anonymous": anonymous_scopes})
        self._expanded: dict[tuple[str, ...], ScopeSet] = {}
        self._anonymous = Caller("", ScopeSet(expand(["assume:anonymous"], self._roles)))
        self._anonymous_request = Verified(self._anonymous, None, FAR_FUTURE_MS, True)
        self._cache: dict[str, tuple[float, _Issuer | None]] = {}
        self._certificates: OrderedDict[_CertificateKey, _Checked] = OrderedDict()
        self._queue_issuer = self._issuer_of(QUEUE_ISSUER, secrets.queue_issuer_token, ("*",))
        # The issuers whose tokens the server holds itself: never looked up, never stale.
        self._own_issuers = {
            ROOT_CLIENT_ID: self._issuer_of(ROOT_CLIENT_ID, secrets.root_access_token, ("*",)),
            QUEUE_ISSUER: self._queue_issuer,
        }

    def expand(self, scopes: list[str]) -> list[str]:
        """The scopes with every role they assume expanded (without the anonymous role)."""
        return expand(scopes, self._roles)

    def _expand(self, scopes: tuple[str, ...]) -> ScopeSet:
        """The scopes plus `assume:anonymous`, expanded, as a ScopeSet (cached)."""
        if all(map(RoleIndex.grants_nothing, scopes)):
            # The usual case of a run's credentials (queue:resolve-task:<taskId>/<runId>...):
            # nothing to expand but the anonymous role, which was expanded once.
            return self._anonymous.scopes.union(scopes)
        found = self._expanded.get(scopes)
        if found is None:
            found = ScopeSet(expand([*scopes, "assume:anonymous"], self._roles))
            if len(self._expanded) >= EXPANSION_CACHE_SIZE:
                del self._expanded[next(iter(self._expanded))]  # the oldest entry
            self._expanded[scopes] = found
        return found

    def _issuer_of(
        self, client_id: str, token: str, scopes: tuple[str, ...], expires_ms: int = FAR_FUTURE_MS
    ) -> _Issuer:
        expanded = self._expand(scopes)
        return _Issuer(token, expanded, Caller(client_id, expanded), expires_ms)

    def forget(self, client_id: str) -> None:
        """Drop a cached client after it changed here."""
        self._cache.pop(client_id, None)

    def issue(
        self, name: str, scopes: list[str], start_ms: int, expiry_ms: int
    ) -> hawk.Credentials:
        """Named temporary credentials issued by the queue itself (QUEUE_ISSUER), noted as
        verified: their certificate is signed here, so the first request made with them need
        not check its signature again nor derive their token. Everything that depends on the
        request or the time is still checked at every request (see _caller)."""
        credentials, certificate = hawk.issue_temporary_credentials(
            issuer_client_id=QUEUE_ISSUER,
            issuer_access_token=self._queue_issuer.access_token,
            start_ms=start_ms,
            expiry_ms=expiry_ms,
            scopes=scopes,
            name=name,
        )
        self._remember(certificate, name, self._queue_issuer, credentials.access_token)
        return credentials

    async def _issuer(self, client_id: str, now: float) -> _Issuer | None:
        cached = self._cache.get(client_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        row = await self._store.get_client(client_id)
        issuer = None
        if row is not None and not row.disabled and row.expires > now * 1000:
            token = derive_token(self._secrets.secret_key, row.client_id, row.salt)
            issuer = self._issuer_of(client_id, token, tuple(row.scopes), row.expires)
        self._cache[client_id] = (now + CLIENT_CACHE_S, issuer)
        return issuer

    async def authenticate(self, request: web.Request, body: bytes) -> Caller:
        headers = request.headers
        host, port = _signed_host_and_port(
            request.host,
            headers.get("X-Forwarded-Port"),
            headers.get("X-Forwarded-Proto"),
            request.scheme,
        )
        facts = hawk.RequestFacts(request.method, host, port, request.raw_path)
        verified = await self.verify(
            facts,
            headers.get("Authorization"),
            content_type=headers.get("Content-Type", ""),
            body=body,
        )
        return verified.caller

    async def verify(
        self,
        facts: hawk.RequestFacts,
        header: str | None,
        *,
        content_type: str = "",
        body: bytes | None = None,
    ) -> Verified:
        """Verify a request described by its facts; `body` None leaves the hash to the caller
        (authenticateHawk, protocol.md)."""
        now = time.time()
        try:
            if header:
                hawk.check_single_scheme(header, facts.resource)
                parsed: hawk.ParsedHeader | hawk.ParsedBewit = hawk.parse_header(header)
            elif hawk.has_bewit(facts.resource):
                parsed, resource = hawk.parse_bewit(facts.resource)
                facts = hawk.RequestFacts(facts.method, facts.host, facts.port, resource)
            else:
                return self._anonymous_request
            issuer_id = hawk.issuer_id(parsed)
            issuer = self._own_issuers.get(issuer_id) or await self._issuer(issuer_id, now)
            if issuer is None:
                raise _failed(f"unknown or disabled client `{issuer_id}`")
            cert = parsed.certificate
            checked = None
            if cert is not None:
                checked = self._certificates.get((cert, parsed.id, issuer.access_token))
                if checked is not None:
                    self._certificates.move_to_end((cert, parsed.id, issuer.access_token))
            key = checked.key if checked else hawk.signing_key(parsed, issuer.access_token)
            if isinstance(parsed, hawk.ParsedHeader):
                hawk.verify_header(
                    parsed, key, facts, content_type=content_type, body=body, now=now
                )
            else:
                hawk.verify_bewit(parsed, key, facts, now=now)
            caller = self._caller(parsed, issuer, now, key, checked)
        except hawk.HawkError as error:
            raise _failed(str(error)) from None
        expires = min(issuer.expires_ms, cert.expiry) if cert is not None else issuer.expires_ms
        payload = parsed.hash if isinstance(parsed, hawk.ParsedHeader) else None
        return Verified(caller, payload, expires, False)

    def _caller(
        self,
        parsed: hawk.ParsedHeader | hawk.ParsedBewit,
        issuer: _Issuer,
        now: float,
        key: str,
        checked: _Checked | None,
    ) -> Caller:
        caller = issuer.caller
        cert = parsed.certificate
        if cert is not None:
            if checked is None:
                hawk.verify_certificate(
                    cert,
                    client_id=parsed.id,
                    issuer_access_token=issuer.access_token,
                    now_ms=int(now * 1000),
                )
                checked = self._remember(cert, parsed.id, issuer, key)
            else:
                hawk.verify_certificate_times(cert, now_ms=int(now * 1000))
            # The issuer's scopes may have changed since: checked at every request.
            scopes = issuer.scopes
            if not scopes.holds_everything:
                if cert.issuer and not scopes.satisfies(f"auth:create-client:{parsed.id}"):
                    raise _failed(f"issuer `{cert.issuer}` may not create client `{parsed.id}`")
                if not satisfies_all(scopes, cert.scopes):
                    raise _failed("the certificate's scopes are not all held by its issuer")
            caller = checked.caller
        if parsed.authorized_scopes is not None:
            if not satisfies_all(caller.scopes, parsed.authorized_scopes):
                raise _failed("authorizedScopes must be a subset of the client's scopes")
            return Caller(parsed.id, self._expand(parsed.authorized_scopes))
        return caller

    def _remember(
        self, cert: hawk.Certificate, client_id: str, issuer: _Issuer, key: str
    ) -> _Checked:
        """Note a certificate that verify_certificate accepted, or that this queue signed
        (the least recently used out when full)."""
        checked = _Checked(key, Caller(client_id, self._expand(cert.scopes)))
        self._certificates[(cert, client_id, issuer.access_token)] = checked
        if len(self._certificates) > CERTIFICATE_CACHE_SIZE:
            self._certificates.popitem(last=False)
        return checked


# Host and port by the headers they are read from: the same for every request to one address.
_signed_host_and_port = functools.lru_cache(maxsize=HOST_CACHE_SIZE)(signed_host_and_port)
