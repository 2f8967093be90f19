"""The verified-certificate cache of the queue's Authenticator: a certificate that passed once
is not checked again in full, but nothing the full check refuses is accepted after it."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from clients import hawk
from clients.protocol.errors import ApiError
from queue_server import auth
from queue_server.auth import Authenticator
from queue_server.bus import Bus
from queue_server.core.tokens import QUEUE_ISSUER
from queue_server.secrets import ServerSecrets
from queue_server.store.sqlite import SQLiteStore

URL = "http://127.0.0.1:8080/api/queue/v1/task/T/runs/0/completed"
RUN = "T/0"
NAME = f"task-client/{RUN}/on/g/w/until/1"
MINUTE_MS = 60_000
SECRETS = ServerSecrets("root-token-" * 4, b"k" * 32)


@pytest.fixture
async def authenticator(tmp_path: Path) -> AsyncIterator[Authenticator]:
    store = await SQLiteStore.open(tmp_path / "db.sqlite", Bus())
    yield Authenticator(store, SECRETS, ("queue:ping",))
    await store.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Set the time the Authenticator sees."""
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])

    def set_to(when: float) -> None:
        now[0] = when

    return set_to


def _issued(now: float, lifetime_ms: int = 20 * MINUTE_MS) -> hawk.Credentials:
    """Run credentials as claimWork issues them."""
    start = int(now * 1000)
    return hawk.create_temporary_credentials(
        issuer_client_id=QUEUE_ISSUER,
        issuer_access_token=SECRETS.queue_issuer_token,
        start_ms=start,
        expiry_ms=start + lifetime_ms,
        scopes=[f"queue:resolve-task:{RUN}", f"queue:reclaim-task:{RUN}"],
        name=NAME,
    )


async def _verify(
    authenticator: Authenticator,
    creds: hawk.Credentials,
    now: float,
    url: str = URL,
    signed_url: str | None = None,
    signed_at: float | None = None,
) -> auth.Verified:
    header = hawk.sign_header(creds, "POST", signed_url or url, now=signed_at or now)
    return await authenticator.verify(hawk.facts_from_url("POST", url), header, body=b"")


def _tampered(creds: hawk.Credentials, **change: Any) -> hawk.Credentials:
    """The same credentials with a field of the certificate changed (the token kept)."""
    cert = {**json.loads(creds.certificate or "{}"), **change}
    return dataclasses.replace(creds, certificate=json.dumps(cert))


async def test_a_certificate_is_checked_in_full_once(
    authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_checks: list[str] = []
    real = hawk.verify_certificate

    def counting(cert: hawk.Certificate, **kwargs: Any) -> None:
        full_checks.append(cert.seed)
        real(cert, **kwargs)

    monkeypatch.setattr(hawk, "verify_certificate", counting)
    now = time.time()
    creds = _issued(now)
    for _ in range(3):
        verified = await _verify(authenticator, creds, now)
        assert verified.caller.client_id == NAME
        assert verified.caller.scopes.satisfies(f"queue:resolve-task:{RUN}")
        assert not verified.caller.scopes.satisfies("queue:resolve-task:other/0")
    assert len(full_checks) == 1


TAMPERINGS = pytest.mark.parametrize(
    "change",
    [
        {"scopes": [f"queue:resolve-task:{RUN}", f"queue:reclaim-task:{RUN}", "*"]},
        {"scopes": [f"queue:resolve-task:{RUN}"]},
        {"expiry": 4_102_444_800_000},
        {"start": 0},
        {"seed": "A" * 44},
        {"issuer": "static/other"},
        {"signature": "A" * 44},
    ],
    ids=["added-scope", "removed-scope", "expiry", "start", "seed", "issuer", "signature"],
)


async def _refused_as_by_a_fresh_authenticator(
    authenticator: Authenticator, creds: hawk.Credentials, change: dict[str, Any], now: float
) -> None:
    """The tampered credentials get a 401, and the same refusal as from an authenticator that
    never saw (nor issued) the real ones."""
    with pytest.raises(ApiError) as refused:
        await _verify(authenticator, _tampered(creds, **change), now)
    assert refused.value.status == 401
    fresh = Authenticator(authenticator._store, SECRETS, ("queue:ping",))
    with pytest.raises(ApiError) as first_time:
        await _verify(fresh, _tampered(creds, **change), now)
    assert str(refused.value) == str(first_time.value)


@TAMPERINGS
async def test_a_tampered_certificate_is_refused_after_the_real_one_passed(
    authenticator: Authenticator, change: dict[str, Any]
) -> None:
    now = time.time()
    creds = _issued(now)
    await _verify(authenticator, creds, now)
    await _refused_as_by_a_fresh_authenticator(authenticator, creds, change, now)


async def test_an_expired_certificate_is_refused_after_it_passed(
    authenticator: Authenticator, clock: Callable[[float], None]
) -> None:
    now = time.time()
    creds = _issued(now, lifetime_ms=MINUTE_MS)
    clock(now)
    await _verify(authenticator, creds, now)
    # Within the 5 minutes of clock skew a certificate is given, it still passes ...
    later = now + 5 * 60
    clock(later)
    await _verify(authenticator, creds, later)
    # ... and then no more, though it passed twice (the request itself is freshly signed).
    much_later = now + 7 * 60
    clock(much_later)
    with pytest.raises(ApiError, match="expiry is in the past"):
        await _verify(authenticator, creds, much_later)


async def test_a_certificate_not_yet_valid_is_refused_after_it_passed(
    authenticator: Authenticator, clock: Callable[[float], None]
) -> None:
    now = time.time()
    creds = _issued(now)
    clock(now)
    await _verify(authenticator, creds, now)
    earlier = now - 10 * 60  # the server's clock stepped back
    clock(earlier)
    with pytest.raises(ApiError, match="start is in the future"):
        await _verify(authenticator, creds, earlier)


async def test_a_cached_certificate_with_another_client_id_is_refused(
    authenticator: Authenticator,
) -> None:
    now = time.time()
    creds = _issued(now)
    await _verify(authenticator, creds, now)
    impostor = dataclasses.replace(creds, client_id="task-client/other/0/on/g/w/until/1")
    with pytest.raises(ApiError, match="signature is not valid"):
        await _verify(authenticator, impostor, now)


async def test_the_request_is_still_checked_with_a_cached_certificate(
    authenticator: Authenticator,
) -> None:
    now = time.time()
    creds = _issued(now)
    await _verify(authenticator, creds, now)
    with pytest.raises(ApiError, match="MAC does not match"):
        await _verify(authenticator, creds, now, signed_url=URL.replace("/T/", "/U/"))
    wrong_key = dataclasses.replace(creds, access_token="x" * 43)
    with pytest.raises(ApiError, match="MAC does not match"):
        await _verify(authenticator, wrong_key, now)


async def test_the_cache_is_bounded(
    authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "CERTIFICATE_CACHE_SIZE", 2)
    now = time.time()
    for _ in range(5):
        await _verify(authenticator, _issued(now), now)
    assert len(authenticator._certificates) == 2


def _issued_here(
    authenticator: Authenticator, now: float, lifetime_ms: int = 20 * MINUTE_MS
) -> hawk.Credentials:
    """Run credentials as claimWork issues them, through the authenticator (noted as verified)."""
    start = int(now * 1000)
    scopes = [f"queue:resolve-task:{RUN}", f"queue:reclaim-task:{RUN}"]
    return authenticator.issue(NAME, scopes, start, start + lifetime_ms)


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[object]:
    """Count the calls of a function of clients.hawk."""
    calls: list[object] = []
    real = getattr(hawk, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(hawk, name, counting)
    return calls


async def test_credentials_the_queue_issued_are_not_checked_in_full(
    authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    full_checks = _counting(monkeypatch, "verify_certificate")
    derivations = _counting(monkeypatch, "signing_key")
    now = time.time()
    creds = _issued_here(authenticator, now)
    # The same credentials as hawk issues them for the queue: signed with its issuer token.
    assert creds.access_token == hawk.temporary_access_token(
        SECRETS.queue_issuer_token, json.loads(creds.certificate or "{}")["seed"]
    )
    for _ in range(2):
        verified = await _verify(authenticator, creds, now)
        assert verified.caller.client_id == NAME
        assert verified.caller.scopes.satisfies(f"queue:resolve-task:{RUN}")
        assert not verified.caller.scopes.satisfies("queue:resolve-task:other/0")
        assert verified.expires_ms == int(now * 1000) + 20 * MINUTE_MS
    assert full_checks == [] and derivations == []


@TAMPERINGS
async def test_a_tampered_certificate_of_credentials_the_queue_issued_is_refused(
    authenticator: Authenticator, change: dict[str, Any]
) -> None:
    now = time.time()
    creds = _issued_here(authenticator, now)
    await _refused_as_by_a_fresh_authenticator(authenticator, creds, change, now)


async def test_credentials_the_queue_issued_expire(
    authenticator: Authenticator, clock: Callable[[float], None]
) -> None:
    now = time.time()
    creds = _issued_here(authenticator, now, lifetime_ms=MINUTE_MS)
    # Never used before, and past their expiry plus the 5 minutes of clock skew.
    much_later = now + 7 * 60
    clock(much_later)
    with pytest.raises(ApiError, match="expiry is in the past"):
        await _verify(authenticator, creds, much_later)


async def test_credentials_the_queue_issued_are_not_valid_before_their_start(
    authenticator: Authenticator, clock: Callable[[float], None]
) -> None:
    now = time.time()
    creds = _issued_here(authenticator, now)
    earlier = now - 10 * 60  # the server's clock stepped back
    clock(earlier)
    with pytest.raises(ApiError, match="start is in the future"):
        await _verify(authenticator, creds, earlier)


async def test_requests_with_credentials_the_queue_issued_are_still_checked(
    authenticator: Authenticator,
) -> None:
    now = time.time()
    creds = _issued_here(authenticator, now)
    with pytest.raises(ApiError, match="MAC does not match"):
        await _verify(authenticator, creds, now, signed_url=URL.replace("/T/", "/U/"))
    with pytest.raises(ApiError, match="MAC does not match"):
        await _verify(authenticator, dataclasses.replace(creds, access_token="x" * 43), now)
    impostor = dataclasses.replace(creds, client_id="task-client/other/0/on/g/w/until/1")
    with pytest.raises(ApiError, match="signature is not valid"):
        await _verify(authenticator, impostor, now)
    with pytest.raises(ApiError, match="outside the allowed clock skew"):
        await _verify(authenticator, creds, now, signed_at=now - 3600)


async def test_credentials_the_queue_issued_are_bounded_and_checked_in_full_once_forgotten(
    authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "CERTIFICATE_CACHE_SIZE", 2)
    full_checks = _counting(monkeypatch, "verify_certificate")
    now = time.time()
    first = _issued_here(authenticator, now)
    for _ in range(4):
        _issued_here(authenticator, now)
    assert len(authenticator._certificates) == 2
    verified = await _verify(authenticator, first, now)
    assert verified.caller.client_id == NAME
    assert len(full_checks) == 1
