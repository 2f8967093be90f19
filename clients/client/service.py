"""The part every service client shares: URLs from the endpoint table, Hawk, retries, decoding.

A service client (Queue, Auth, and later services) subclasses ``ServiceClient``, names its
``service`` and declares one short method per endpoint of that service, each calling
``_call(name, ResponseType, ...)``. Clients made with ``sibling``/``with_credentials`` share
one aiohttp session; the client that opened the session closes it.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, TypeVar

import aiohttp
import msgspec
import yarl

from .. import hawk
from ..protocol.endpoints import ENDPOINTS, Endpoint
from .errors import ClientError, ResponseError, TransportError, error_from_answer
from .options import Options
from .retry import is_retryable_status

__all__ = ["Body", "ServiceClient"]

T = TypeVar("T")
P = TypeVar("P", bound="_Page")
S = TypeVar("S", bound="ServiceClient")
Body = msgspec.Struct | Mapping[str, Any]
Query = Mapping[str, str | int | bool | None]
Params = Mapping[str, object]

JSON = "application/json"
# Failures below HTTP that a retry may cure: refused or reset connections, timeouts, answers
# cut short. (aiohttp's own timeouts are asyncio.TimeoutError.)
_RETRYABLE = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)
_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}
_encoder = msgspec.json.Encoder()


class _Page(Protocol):
    @property
    def continuation_token(self) -> str | msgspec.UnsetType: ...


def _decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    if kind not in _DECODERS:
        _DECODERS[kind] = msgspec.json.Decoder(kind)
    return _DECODERS[kind]


class _SessionHolder:
    """One aiohttp session, opened on first use inside the running loop."""

    def __init__(self, session: aiohttp.ClientSession | None) -> None:
        self._session = session
        self._owned = session is None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owned = True
        return self._session

    async def close(self) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
        self._session = None


class ServiceClient:
    """Calls the endpoints of one service of the table under ``<rootUrl>/api/<service>/v1``."""

    service: ClassVar[str]
    # The table the service's endpoints are declared in (the queue's, the worker-manager's...).
    endpoints: ClassVar[tuple[Endpoint, ...]] = ENDPOINTS

    def __init__(
        self,
        options: Options | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """``options`` default to ``Options.from_env()``; ``session`` may be shared (the
        caller then closes it); ``sleep`` and ``rng`` drive the backoff."""
        self.options = Options.from_env() if options is None else options
        self._holder = _SessionHolder(session)
        self._owner = True
        self._sleep, self._rng = sleep, rng

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """A client configured from the ``TASKCLUSTER_*`` variables (keywords override)."""
        return cls(Options.from_env(**overrides))

    def sibling(self, kind: type[S], options: Options | None = None) -> S:
        """A client of another (or the same) service sharing this one's session."""
        other = kind(self.options if options is None else options, sleep=self._sleep, rng=self._rng)
        other._holder, other._owner = self._holder, False
        return other

    def with_credentials(
        self, credentials: hawk.Credentials | None, authorized_scopes: Sequence[str] | None = None
    ) -> Self:
        """A client of this service calling with other credentials, sharing the session."""
        return self.sibling(
            type(self), self.options.with_credentials(credentials, authorized_scopes)
        )

    def use_credentials(
        self, credentials: hawk.Credentials | None, authorized_scopes: Sequence[str] | None = None
    ) -> None:
        """Call with these credentials from now on (e.g. those reclaimTask just returned)."""
        self.options = self.options.with_credentials(credentials, authorized_scopes)

    @property
    def credentials(self) -> hawk.Credentials | None:
        return self.options.credentials

    async def close(self) -> None:
        """Close the session if this client opened it; siblings never close it."""
        if self._owner:
            await self._holder.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def url(self, name: str, params: Params | None = None, query: Query | None = None) -> str:
        """The absolute URL of endpoint ``name``; every path parameter percent-encoded."""
        endpoint, params = self._endpoint(name), params or {}
        route = endpoint.route
        for param in endpoint.params:
            route = route.replace(f"<{param}>", urllib.parse.quote(str(params[param]), safe=""))
        url = f"{self.options.root_url}/api/{endpoint.service}/v1{route}"
        pairs = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        return f"{url}?{urllib.parse.urlencode(pairs)}" if pairs else url

    def signed_headers(
        self, method: str, url: str, body: bytes = b"", content_type: str = JSON
    ) -> dict[str, str]:
        """Content-Type (unless empty) and, with credentials, a fresh Hawk Authorization."""
        headers = {"Content-Type": content_type} if content_type else {}
        credentials = self.options.credentials
        if credentials is not None:
            headers["Authorization"] = hawk.sign_header(
                credentials,
                method,
                url,
                content_type=content_type,
                body=body,
                now=time.time(),
                authorized_scopes=self.options.authorized_scopes,
            )
        return headers

    def session(self) -> aiohttp.ClientSession:
        """The aiohttp session this client (and its siblings) send with."""
        return self._holder.get()

    def _endpoint(self, name: str) -> Endpoint:
        endpoint = _index(self.endpoints).get(name)
        if endpoint is None:
            raise ClientError(f"{name} is not an endpoint of the {self.service} service")
        if endpoint.service != self.service:
            raise ClientError(f"{name} belongs to the {endpoint.service} service")
        return endpoint

    async def _call(
        self,
        name: str,
        out: type[T],
        params: Params | None = None,
        body: Body | None = None,
        query: Query | None = None,
    ) -> T:
        """Call endpoint ``name`` and decode its answer into ``out``."""
        raw = await self._answer(name, params, body, query)
        try:
            return _decoder(out).decode(raw)  # type: ignore[no-any-return]
        except msgspec.DecodeError as error:
            raise ResponseError(
                f"{name}: the answer is not a valid {out.__name__}: {error}"
            ) from None

    async def _call_empty(
        self, name: str, params: Params | None = None, body: Body | None = None
    ) -> None:
        """Call an endpoint that answers 204 with no body."""
        await self._answer(name, params, body, None)

    async def _answer(
        self, name: str, params: Params | None, body: Body | None, query: Query | None
    ) -> bytes:
        endpoint = self._endpoint(name)
        url = self.url(name, params, query)
        data = b"" if body is None else _encoder.encode(body)
        retry = self.options.retry
        for attempt in range(retry.max_retries + 1):
            last = attempt == retry.max_retries
            try:
                status, raw = await self._send(endpoint.method, url, data)
            except _RETRYABLE as error:
                if last:
                    raise TransportError(name, attempt + 1, error) from error
            else:
                if status < 400:
                    return raw
                if last or not is_retryable_status(status):
                    raise error_from_answer(name, status, raw)
            await self._sleep(retry.delay_s(attempt, self._rng()))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send(self, method: str, url: str, data: bytes) -> tuple[int, bytes]:
        headers = self.signed_headers(method, url, data)
        timeout = aiohttp.ClientTimeout(total=self.options.timeout_s)
        async with self.session().request(
            method,
            yarl.URL(url, encoded=True),  # sign and send the very same percent-encoding
            data=data or None,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        ) as response:
            return response.status, await response.read()

    @staticmethod
    async def _paginate(
        fetch: Callable[[str | None], Awaitable[P]], items: Callable[[P], Iterable[T]]
    ) -> AsyncIterator[T]:
        """Every item of a paginated listing, fetching the next page when one is used up."""
        token: str | None = None
        while True:
            page = await fetch(token)
            for item in items(page):
                yield item
            next_token = page.continuation_token
            if not isinstance(next_token, str) or not next_token:
                return
            token = next_token


_INDEXES: dict[int, dict[str, Endpoint]] = {}


def _index(table: tuple[Endpoint, ...]) -> dict[str, Endpoint]:
    if id(table) not in _INDEXES:
        _INDEXES[id(table)] = {endpoint.name: endpoint for endpoint in table}
    return _INDEXES[id(table)]


def _query_value(value: str | int | bool | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
