"""Tests of clients.hawk, cross-checked against mohawk and the official taskcluster client."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import mohawk
import mohawk.bewit
import msgspec
import pytest
import taskcluster
import taskcluster.utils

from clients import hawk
from clients.hawk import (
    Credentials,
    HawkError,
    RequestFacts,
    check_single_scheme,
    create_temporary_credentials,
    facts_from_url,
    issuer_id,
    parse_bewit,
    parse_certificate,
    parse_header,
    payload_hash,
    sign_bewit,
    sign_header,
    signing_key,
    temporary_access_token,
    verify_bewit,
    verify_certificate,
    verify_header,
)

NOW = 1_700_000_000
NOW_MS = NOW * 1000
ROOT_URL = "https://tc.example.com"
URL = f"{ROOT_URL}/api/queue/v1/task/abc/claim?x=1"
ISSUER = "project/issuer"
TOKEN = "issuer-secret-token-0123456789-abcdefghijklmno"
BODY = b'{"workerGroup":"g","workerId":"w"}'
JSON = "application/json"
DAY_MS = 24 * 60 * 60 * 1000
SEED = "A" * 22 + "B" * 22
TOKENS = {ISSUER: TOKEN, "project/other": "other-secret-token-zyxwvutsrqponmlkjihgfedcba"}


def _queue(credentials: dict[str, Any], **options: Any) -> Any:
    # The official client encodes the credentials dict it is given to bytes, in place.
    return taskcluster.Queue({"rootUrl": ROOT_URL, "credentials": dict(credentials), **options})


def _mohawk_header(
    tc_credentials: dict[str, Any], method: str, url: str, body: bytes, **options: Any
) -> str:
    """Sign exactly as taskcluster's client does in BaseClient._makeHttpRequest."""
    queue = _queue(tc_credentials, **options)
    credentials = queue.options["credentials"]
    hawk_ext = queue.makeHawkExt()
    payload = body.decode() if body else None
    sender = mohawk.Sender(
        credentials={
            "id": credentials["clientId"],
            "key": credentials["accessToken"],
            "algorithm": "sha256",
        },
        ext=hawk_ext if hawk_ext else {},
        url=url,
        content=payload if payload else "",
        content_type=JSON if payload else "",
        method=method,
        _timestamp=NOW,
    )
    header: str = sender.request_header
    return header


def _server(
    header: str, method: str, url: str, body: bytes, *, now: float = NOW, content_type: str = JSON
) -> hawk.ParsedHeader:
    """Authenticate a request the way a Taskcluster-compatible server would."""
    parsed = parse_header(header)
    token = TOKENS[issuer_id(parsed)]
    if parsed.certificate is not None:
        verify_certificate(
            parsed.certificate,
            client_id=parsed.id,
            issuer_access_token=token,
            now_ms=int(now * 1000),
        )
    facts = facts_from_url(method, url)
    key = signing_key(parsed, token)
    verify_header(parsed, key, facts, content_type=content_type, body=body, now=now)
    return parsed


def _official_temp(name: str | None = None) -> dict[str, Any]:
    start = datetime.datetime.fromtimestamp(NOW, datetime.UTC)
    creds: dict[str, Any] = taskcluster.createTemporaryCredentials(
        ISSUER, TOKEN, start, start + datetime.timedelta(days=1), ["queue:claim-work:*"], name
    )
    creds["accessToken"] = creds["accessToken"].decode()
    return creds


def _ours_temp(name: str | None = None, **changes: Any) -> Credentials:
    options: dict[str, Any] = {
        "issuer_client_id": ISSUER,
        "issuer_access_token": TOKEN,
        "start_ms": NOW_MS,
        "expiry_ms": NOW_MS + DAY_MS,
        "scopes": ["queue:claim-work:*", "queue:worker-id:g/w"],
        "name": name,
    }
    return create_temporary_credentials(**{**options, **changes})


def _cert(credentials: Credentials) -> hawk.Certificate:
    assert credentials.certificate is not None
    return parse_certificate(json.loads(credentials.certificate))


def _bewit_parts(url: str) -> tuple[hawk.ParsedBewit, RequestFacts]:
    parts = urlsplit(url)
    parsed, stripped = parse_bewit(f"{parts.path}?{parts.query}")
    return parsed, RequestFacts("GET", parts.hostname or "", parts.port or 443, stripped)


def _ext_json(ext: str | None) -> Any:
    assert ext is not None
    return json.loads(base64.urlsafe_b64decode(ext))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("", b""), (JSON, BODY), ("Application/JSON; charset=utf-8", BODY), ("text/plain", b"\xff")],
)
def test_payload_hash_matches_mohawk(content_type: str, body: bytes) -> None:
    expected = mohawk.util.calculate_payload_hash(body, "sha256", content_type).decode()
    assert payload_hash(content_type, body) == expected


def test_mohawk_header_as_taskcluster_sends_it_verifies() -> None:
    header = _mohawk_header({"clientId": ISSUER, "accessToken": TOKEN}, "POST", URL, BODY)
    parsed = _server(header, "POST", URL, BODY)
    assert (parsed.id, parsed.ts, _ext_json(parsed.ext)) == (ISSUER, NOW, {})
    assert parsed.certificate is None
    assert parsed.authorized_scopes is None


def test_mohawk_header_for_bodiless_get_verifies() -> None:
    header = _mohawk_header({"clientId": ISSUER, "accessToken": TOKEN}, "GET", URL, b"")
    assert parse_header(header).hash == payload_hash("", b"")
    _server(header, "GET", URL, b"", content_type="")


def test_mohawk_header_with_authorized_scopes_is_parsed_and_verifies() -> None:
    creds = {"clientId": ISSUER, "accessToken": TOKEN}
    header = _mohawk_header(creds, "POST", URL, BODY, authorizedScopes=["queue:a", "queue:b"])
    assert _server(header, "POST", URL, BODY).authorized_scopes == ("queue:a", "queue:b")


@pytest.mark.parametrize("name", [None, "project/named-temp"])
def test_mohawk_header_with_official_temporary_credentials_verifies(name: str | None) -> None:
    creds = _official_temp(name)
    parsed = _server(_mohawk_header(creds, "POST", URL, BODY), "POST", URL, BODY)
    assert parsed.id == (name or ISSUER)
    assert issuer_id(parsed) == ISSUER
    assert parsed.certificate == parse_certificate(json.loads(creds["certificate"]))


def test_sign_header_verifies_with_mohawk_receiver() -> None:
    header = sign_header(
        Credentials(ISSUER, TOKEN), "POST", URL, content_type=JSON, body=BODY, now=NOW
    )
    mohawk.Receiver(
        lambda _id: {"id": ISSUER, "key": TOKEN, "algorithm": "sha256"},
        header,
        URL,
        "POST",
        content=BODY,
        content_type=JSON,
        localtime_offset_in_seconds=NOW - time.time(),
    )


def test_sign_header_with_temporary_credentials_verifies_with_mohawk_receiver() -> None:
    creds = _ours_temp("project/named-temp")
    header = sign_header(creds, "GET", URL, now=NOW)
    key = temporary_access_token(TOKEN, _cert(creds).seed)
    mohawk.Receiver(
        lambda _id: {"id": creds.client_id, "key": key, "algorithm": "sha256"},
        header,
        URL,
        "GET",
        content=b"",
        content_type="",
        localtime_offset_in_seconds=NOW - time.time(),
    )
    assert _server(header, "GET", URL, b"", content_type="").certificate == _cert(creds)


@pytest.mark.parametrize("scopes", [None, ["queue:a"], []])
def test_sign_header_is_byte_identical_to_taskcluster_and_mohawk(scopes: list[str] | None) -> None:
    creds = _official_temp("project/named-temp")
    options = {} if scopes is None else {"authorizedScopes": scopes}
    expected = mohawk.Sender(
        credentials={"id": creds["clientId"], "key": creds["accessToken"], "algorithm": "sha256"},
        ext=_queue(creds, **options).makeHawkExt(),
        url=URL,
        method="POST",
        content=BODY,
        content_type=JSON,
        nonce="n0nce1",
        _timestamp=NOW,
    ).request_header
    ours = Credentials(creds["clientId"], creds["accessToken"], creds["certificate"])
    header = sign_header(
        ours,
        "POST",
        URL,
        content_type=JSON,
        body=BODY,
        now=NOW,
        nonce="n0nce1",
        authorized_scopes=scopes,
    )
    assert header == expected


def test_sign_header_round_trips_authorized_scopes() -> None:
    header = sign_header(Credentials(ISSUER, TOKEN), "GET", URL, now=NOW, authorized_scopes=["a:b"])
    assert _server(header, "GET", URL, b"", content_type="").authorized_scopes == ("a:b",)


@pytest.mark.parametrize(
    ("method", "url", "body", "content_type"),
    [
        ("PUT", URL, BODY, JSON),
        ("POST", URL.replace("claim", "reclaim"), BODY, JSON),
        ("POST", URL.replace("x=1", "x=2"), BODY, JSON),
        ("POST", URL.replace("tc.example.com", "evil.example.com"), BODY, JSON),
        ("POST", URL.replace("example.com/", "example.com:8443/"), BODY, JSON),
        ("POST", URL, BODY + b" ", JSON),
        ("POST", URL, BODY, "text/plain"),
    ],
    ids=["wrong-method", "wrong-path", "wrong-query", "wrong-host", "wrong-port", "body", "ctype"],
)
def test_tampered_request_fails(method: str, url: str, body: bytes, content_type: str) -> None:
    header = _mohawk_header({"clientId": ISSUER, "accessToken": TOKEN}, "POST", URL, BODY)
    with pytest.raises(HawkError):
        _server(header, method, url, body, content_type=content_type)


def test_tampered_body_fails_on_payload_hash() -> None:
    header = sign_header(
        Credentials(ISSUER, TOKEN), "POST", URL, content_type=JSON, body=BODY, now=NOW
    )
    with pytest.raises(HawkError, match="payload hash"):
        _server(header, "POST", URL, b'{"workerGroup":"evil"}')


def test_wrong_key_fails() -> None:
    header = sign_header(Credentials(ISSUER, "not-the-token"), "GET", URL, now=NOW)
    with pytest.raises(HawkError, match="MAC"):
        _server(header, "GET", URL, b"", content_type="")


def test_header_without_hash_skips_payload_check() -> None:
    header = mohawk.Sender(
        credentials={"id": ISSUER, "key": TOKEN, "algorithm": "sha256"},
        url=URL,
        method="POST",
        always_hash_content=False,
        _timestamp=NOW,
    ).request_header
    assert parse_header(header).hash is None
    _server(header, "POST", URL, b"anything")


@pytest.mark.parametrize("offset", [-900, 0, 900])
def test_skew_within_15_minutes_passes(offset: int) -> None:
    header = sign_header(Credentials(ISSUER, TOKEN), "GET", URL, now=NOW + offset)
    _server(header, "GET", URL, b"", content_type="")


@pytest.mark.parametrize("offset", [-901, 901, 3600])
def test_skew_beyond_15_minutes_fails(offset: int) -> None:
    header = sign_header(Credentials(ISSUER, TOKEN), "GET", URL, now=NOW + offset)
    with pytest.raises(HawkError, match="skew"):
        _server(header, "GET", URL, b"", content_type="")


def _ext(obj: object, *, alphabet: str = "urlsafe", pad: bool = True) -> str:
    raw = json.dumps(obj).encode()
    text = (base64.urlsafe_b64encode if alphabet == "urlsafe" else base64.b64encode)(raw).decode()
    return text if pad else text.rstrip("=")


@pytest.mark.parametrize(
    ("alphabet", "pad"), [("urlsafe", True), ("urlsafe", False), ("std", True)]
)
def test_ext_accepts_any_base64_form(alphabet: str, pad: bool) -> None:
    scopes = ["queue:?>?>"]  # encodes to characters that differ between the alphabets
    ext = _ext({"authorizedScopes": scopes}, alphabet=alphabet, pad=pad)
    header = f'Hawk id="a", ts="{NOW}", nonce="n", mac="m", ext="{ext}"'
    assert parse_header(header).authorized_scopes == tuple(scopes)


GOOD_CERT = json.loads(_ours_temp().certificate or "")
_START = 'Hawk id="a", ts="1", nonce="n", mac="m"'


def _with_cert(**changes: Any) -> str:
    return f'{_START}, ext="{_ext({"certificate": {**GOOD_CERT, **changes}})}"'


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ('Basic id="a", ts="1", nonce="n", mac="m"', "not a Hawk"),
        ("Hawk", "not a Hawk"),
        ('Hawk id="a", ts="1", nonce="n"', "lacks mac"),
        (f'{_START}, app="x"', "unsupported Hawk attribute"),
        (f'{_START}, id="b"', "duplicate"),
        (f"{_START} junk", "malformed"),
        ('Hawk id="a", ts="1",nonce="n" mac="m"', "malformed"),
        ('Hawk id="a", ts="-1", nonce="n", mac="m"', "ts"),
        ('Hawk id="a", ts="01", nonce="n", mac="m"', "ts"),
        ('Hawk id="", ts="1", nonce="n", mac="m"', "bad or duplicate"),
        (f'{_START}, ext="***"', "not base64"),
        (f'{_START}, ext="{_ext("x")[:-1]}"', "base64-encoded JSON"),
        (f'{_START}, ext="{_ext([1])}"', "JSON object"),
        (f'{_START}, ext="{_ext({"authorizedScopes": "x"})}"', "authorizedScopes must be an array"),
        (f'{_START}, ext="{_ext({"authorizedScopes": [1]})}"', "valid scopes"),
        (f'{_START}, ext="{_ext({"certificate": "x"})}"', "JSON object"),
        (_with_cert(version=2), "version must be 1"),
        (_with_cert(version=True), "version"),
        (_with_cert(seed="short"), "44 characters"),
        (_with_cert(start="0"), "start must be of type int"),
        (_with_cert(scopes="*"), "scopes must be an array"),
        (_with_cert(signature=None), "signature"),
        (_with_cert(issuer=""), "issuer"),
        (_with_cert(clientId="c"), "clientId must only be used"),
        ("Hawk " + ", ".join(f'id="{"a" * 100}"' for _ in range(50)), "too long"),
    ],
)
def test_malformed_header_fails(header: str, problem: str) -> None:
    with pytest.raises(HawkError, match=problem):
        parse_header(header)


@pytest.mark.parametrize("name", [None, "project/named-temp"])
def test_official_temporary_credentials_verify(name: str | None) -> None:
    creds = _official_temp(name)
    cert = parse_certificate(json.loads(creds["certificate"]))
    assert creds["clientId"] == (name or ISSUER)
    assert cert.issuer == (ISSUER if name else None)
    verify_certificate(cert, client_id=creds["clientId"], issuer_access_token=TOKEN, now_ms=NOW_MS)
    assert temporary_access_token(TOKEN, cert.seed) == creds["accessToken"]


@pytest.fixture
def fixed_slugids(monkeypatch: pytest.MonkeyPatch) -> None:
    halves = iter([SEED[:22], SEED[22:]] * 2)
    monkeypatch.setattr(taskcluster.utils, "slugId", lambda: next(halves))


@pytest.mark.usefixtures("fixed_slugids")
@pytest.mark.parametrize("name", [None, "project/named-temp"])
def test_create_temporary_credentials_matches_official_output(name: str | None) -> None:
    official = _official_temp(name)
    start_ms, scopes = NOW_MS, ["queue:claim-work:*"]
    ours = _ours_temp(
        name, seed=SEED, scopes=scopes, start_ms=start_ms, expiry_ms=start_ms + DAY_MS
    )
    assert ours == Credentials(
        official["clientId"], official["accessToken"], official["certificate"]
    )


@pytest.mark.parametrize("name", [None, "project/named-temp"])
def test_create_temporary_credentials_round_trips(name: str | None) -> None:
    creds = _ours_temp(name)
    cert = _cert(creds)
    verify_certificate(cert, client_id=creds.client_id, issuer_access_token=TOKEN, now_ms=NOW_MS)
    assert creds.access_token == temporary_access_token(TOKEN, cert.seed)
    assert cert.scopes == ("queue:claim-work:*", "queue:worker-id:g/w")
    _server(
        sign_header(creds, "POST", URL, content_type=JSON, body=BODY, now=NOW), "POST", URL, BODY
    )


def test_independent_certificate_signature_matches() -> None:
    cert = _cert(_ours_temp("project/named-temp", seed=SEED))
    lines = ["version:1", "clientId:project/named-temp", f"issuer:{ISSUER}", f"seed:{SEED}"]
    lines += [f"start:{NOW_MS}", f"expiry:{NOW_MS + DAY_MS}", "scopes:", *cert.scopes]
    digest = hmac.new(TOKEN.encode(), "\n".join(lines).encode(), hashlib.sha256).digest()
    assert cert.signature == base64.b64encode(digest).decode()


def test_generated_seed_is_two_nice_slugids() -> None:
    seed = _cert(_ours_temp()).seed
    assert len(seed) == 44
    assert all(half[0] in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef" for half in (seed[:22], seed[22:]))


@pytest.mark.parametrize(
    ("start", "expiry", "now", "problem"),
    [
        (NOW_MS, NOW_MS + DAY_MS, NOW_MS + 2 * DAY_MS, "expiry is in the past"),
        (NOW_MS + DAY_MS, NOW_MS + 2 * DAY_MS, NOW_MS, "start is in the future"),
        (NOW_MS, NOW_MS + 32 * DAY_MS, NOW_MS, "31 days"),
    ],
    ids=["expired", "not-yet-valid", "too-long"],
)
def test_certificate_outside_its_window_fails(
    start: int, expiry: int, now: int, problem: str
) -> None:
    cert = msgspec.structs.replace(_cert(_ours_temp()), start=start, expiry=expiry)
    with pytest.raises(HawkError, match=problem):
        verify_certificate(cert, client_id=ISSUER, issuer_access_token=TOKEN, now_ms=now)


@pytest.mark.parametrize(
    ("start_offset", "expiry_offset"),
    [(5 * 60 * 1000, DAY_MS), (-DAY_MS, -5 * 60 * 1000), (-31 * DAY_MS, 0)],
    ids=["start-within-5-min", "expiry-within-5-min", "exactly-31-days"],
)
def test_certificate_window_boundaries_pass(start_offset: int, expiry_offset: int) -> None:
    creds = _ours_temp(start_ms=NOW_MS + start_offset, expiry_ms=NOW_MS + expiry_offset)
    verify_certificate(_cert(creds), client_id=ISSUER, issuer_access_token=TOKEN, now_ms=NOW_MS)


def test_official_certificate_expired_fails() -> None:
    cert = parse_certificate(json.loads(_official_temp()["certificate"]))
    with pytest.raises(HawkError, match="expiry"):
        verify_certificate(
            cert, client_id=ISSUER, issuer_access_token=TOKEN, now_ms=NOW_MS + 2 * DAY_MS
        )


@pytest.mark.parametrize(
    "change",
    [
        {"scopes": ("queue:claim-work:*", "*")},
        {"scopes": ("queue:claim-work:*",)},
        {"seed": SEED},
        {"expiry": NOW_MS + DAY_MS + 1},
        {"issuer": "project/other"},
    ],
    ids=["added-scope", "removed-scope", "seed", "expiry", "issuer"],
)
def test_tampered_certificate_fails(change: dict[str, Any]) -> None:
    cert = msgspec.structs.replace(_cert(_ours_temp("project/named-temp")), **change)
    with pytest.raises(HawkError, match="signature"):
        verify_certificate(
            cert, client_id="project/named-temp", issuer_access_token=TOKEN, now_ms=NOW_MS
        )


def test_named_certificate_with_other_client_id_fails() -> None:
    cert = parse_certificate(json.loads(_official_temp("project/named-temp")["certificate"]))
    with pytest.raises(HawkError, match="wrong clientId"):
        verify_certificate(
            cert, client_id="project/impostor", issuer_access_token=TOKEN, now_ms=NOW_MS
        )
    with pytest.raises(HawkError, match="differ"):
        verify_certificate(cert, client_id=ISSUER, issuer_access_token=TOKEN, now_ms=NOW_MS)


def test_certificate_signed_by_other_issuer_fails() -> None:
    cert = _cert(_ours_temp())
    with pytest.raises(HawkError, match="signature"):
        verify_certificate(
            cert, client_id=ISSUER, issuer_access_token=TOKENS["project/other"], now_ms=NOW_MS
        )


@pytest.mark.parametrize(
    "changes",
    [
        {"expiry_ms": NOW_MS + 31 * DAY_MS + 1},
        {"expiry_ms": NOW_MS - 1},
        {"seed": "short"},
        {"name": ISSUER},
        {"scopes": ["bad\nscope"]},
    ],
    ids=["too-long", "negative", "seed", "name-is-issuer", "scope"],
)
def test_create_temporary_credentials_rejects_bad_input(changes: dict[str, Any]) -> None:
    with pytest.raises(HawkError):
        _ours_temp(**changes)


def test_issuer_id_and_signing_key() -> None:
    unnamed_creds, named_creds = _ours_temp(), _ours_temp("project/named-temp")
    plain = parse_header(sign_header(Credentials(ISSUER, TOKEN), "GET", URL, now=NOW))
    unnamed = parse_header(sign_header(unnamed_creds, "GET", URL, now=NOW))
    named = parse_header(sign_header(named_creds, "GET", URL, now=NOW))
    assert [p.id for p in (plain, unnamed, named)] == [ISSUER, ISSUER, "project/named-temp"]
    assert [issuer_id(p) for p in (plain, unnamed, named)] == [ISSUER, ISSUER, ISSUER]
    assert signing_key(plain, TOKEN) == TOKEN
    assert signing_key(unnamed, TOKEN) == unnamed_creds.access_token
    assert signing_key(named, TOKEN) == named_creds.access_token


@pytest.mark.parametrize(
    ("url", "facts"),
    [
        ("http://Example.COM/a/b?c=d", RequestFacts("GET", "example.com", 80, "/a/b?c=d")),
        ("https://example.com", RequestFacts("GET", "example.com", 443, "/")),
        ("https://example.com:8443/a%2Fb#frag", RequestFacts("GET", "example.com", 8443, "/a%2Fb")),
    ],
)
def test_facts_from_url_defaults_ports_and_keeps_raw_resource(
    url: str, facts: RequestFacts
) -> None:
    assert facts_from_url("get", url) == facts


def _facts_or_error(method: str, url: str) -> RequestFacts | str:
    try:
        return facts_from_url(method, url)
    except HawkError as error:
        return str(error)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/api/queue/v1/task/abc/runs/0/completed",
        "HTTPS://Example.COM:443/a?b=c?d&e=/f",
        "http://example.com/a://b",
        "http://example.com//a",
        "http://example.com/a?",
        "http://example.com/a?b#c",
        "http://example.com/a b",
        "http://example.com/a\tb",
        " http://example.com/a",
        "http://example.com/a ",
        "http://user:pw@example.com/a",
        "http://example.com@evil.com/a",
        "http://[::1]:8080/a",
        "http://example.com?x=/a",
        "http://example.com#x/a",
        "http://example.com:abc/a",
        "http://example.com:/a",
        "http://example.com:0/a",
        "http:/example.com/a",
        "//example.com/a",
        "ftp://example.com/a",
        "http:///a",
        "example.com/a",
        "http://ex\\ample.com/a",
        "http://example.com/é",
    ],
)
def test_facts_from_url_read_usual_urls_as_urlsplit_does(url: str) -> None:
    # The usual URL is cut at its path and its origin parsed once; the facts must be those of
    # parsing it whole (urlsplit), for every URL, or the same refusal.
    whole: RequestFacts | str
    try:
        whole = hawk._facts_from_any_url("POST", url)
    except HawkError as error:
        whole = str(error)
    assert _facts_or_error("post", url) == whole


@pytest.mark.parametrize(
    "header",
    [
        'Hawk mac="m+/=", hash="h", id="c", ts="1700000000", nonce="n", ext="e"',
        'Hawk mac="m", id="c", ts="0", nonce="n"',
        'Hawk mac="m", hash="h", id="c", ts="01", nonce="n"',
        'Hawk mac="m", hash="h", id="c", ts="1", nonce="n", ext=""',
        'Hawk mac="m", hash="h", id="c", ts="1", nonce="n", ext="e", app="a"',
        'Hawk mac="m", hash="h", id="c", ts="1", nonce="n",',
        'Hawk mac="m", hash="h", id="c", ts="1", nonce="n" ',
        'Hawk mac="m", hash="h", id="c", ts="1", nonce="n"\n',
        'Hawk mac="m", mac="m", id="c", ts="1", nonce="n"',
        'hawk mac="m", hash="h", id="c", ts="1", nonce="n"',
        'Hawk  mac="m", id="c", ts="1", nonce="n"',
        'Hawk id="c", ts="1", nonce="n", hash="h", ext="e", mac="m"',
    ],
)
def test_headers_in_the_usual_order_parse_as_in_any_order(
    header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parsed_or_error() -> hawk.ParsedHeader | str:
        try:
            return parse_header(header)
        except HawkError as error:
            return str(error)

    usual = parsed_or_error()
    monkeypatch.setattr(hawk, "_USUAL_HEADER", re.compile("(?!)"))  # only the general path
    assert usual == parsed_or_error()


_CERT = {
    "version": 1,
    "scopes": ["queue:a", "queue:b*"],
    "start": NOW_MS,
    "expiry": NOW_MS + DAY_MS,
    "seed": SEED,
    "signature": "s",
}


@pytest.mark.parametrize(
    "ext",
    [
        {"certificate": _CERT},
        {"certificate": {**_CERT, "issuer": ISSUER, "clientId": "c"}},
        {"certificate": {**_CERT, "issuer": None}},
        {"certificate": {**_CERT, "clientId": None}},
        {"certificate": {**_CERT, "issuer": ""}},
        {"certificate": {**_CERT, "issuer": 1}},
        {"certificate": {**_CERT, "version": 2}},
        {"certificate": {**_CERT, "version": True}},
        {"certificate": {**_CERT, "start": 1.5}},
        {"certificate": {**_CERT, "expiry": 10**30}},
        {"certificate": {**_CERT, "seed": SEED[1:]}},
        {"certificate": {**_CERT, "scopes": ["a\tb"]}},
        {"certificate": {**_CERT, "scopes": "queue:a"}},
        {"certificate": {**_CERT, "signature": None}},
        {"certificate": {**_CERT, "extra": [1, 2]}},
        {"certificate": None, "authorizedScopes": None},
        {"certificate": _CERT, "authorizedScopes": ["queue:a"]},
        {"authorizedScopes": ["queue:a", "é"]},
        {"authorizedScopes": [1]},
        {"authorizedScopes": {}},
        {"certificate": []},
        [],
        "text",
    ],
)
def test_usual_exts_parse_as_any_ext(ext: object) -> None:
    # The usual ext is decoded to its types at once; what it makes, or refuses, must be what
    # the general path makes or refuses.
    text = base64.urlsafe_b64encode(json.dumps(ext).encode()).decode()

    def parsed(parse: Any) -> object:
        try:
            return parse(text)
        except HawkError as error:
            return str(error)

    assert parsed(hawk._parse_ext_text.__wrapped__) == parsed(hawk._parse_any_ext)


def test_the_exts_of_temporary_credentials_take_the_usual_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def general(ext: str) -> None:
        raise AssertionError(f"the general path parsed {ext}")

    monkeypatch.setattr(hawk, "_parse_any_ext", general)
    for creds in (_ours_temp(), _ours_temp("project/named-temp")):
        header = sign_header(creds, "GET", URL, now=NOW, authorized_scopes=["queue:a"])
        parsed = parse_header(header)
        assert parsed.certificate == _cert(creds)
        assert parsed.authorized_scopes == ("queue:a",)


def test_the_official_client_and_ours_sign_in_the_usual_order() -> None:
    temp = _ours_temp()
    tc = {"clientId": temp.client_id, "accessToken": temp.access_token}
    official = _mohawk_header({**tc, "certificate": temp.certificate}, "POST", URL, BODY)
    ours = sign_header(temp, "POST", URL, content_type=JSON, body=BODY, now=NOW)
    assert hawk._USUAL_HEADER.fullmatch(official) and hawk._USUAL_HEADER.fullmatch(ours)


def test_usual_urls_are_cut_at_their_path() -> None:
    before = hawk._origin.cache_info()
    facts_from_url("GET", "http://127.0.0.1:8080/api/queue/v1/ping")
    facts_from_url("GET", "http://127.0.0.1:8080/api/queue/v1/task/abc")
    after = hawk._origin.cache_info()
    assert after.hits + after.misses == before.hits + before.misses + 2


def test_taskcluster_signed_url_bewit_verifies() -> None:
    queue = _queue({"clientId": ISSUER, "accessToken": TOKEN})
    url = queue.buildSignedUrl("getLatestArtifact", "abc", "public/logs/live.log", expiration=600)
    parsed, facts = _bewit_parts(url)
    assert facts.resource == "/api/queue/v1/task/abc/artifacts/public%2Flogs%2Flive.log"
    assert (parsed.id, _ext_json(parsed.ext)) == (ISSUER, {})
    verify_bewit(parsed, signing_key(parsed, TOKEN), facts, now=parsed.exp - 600)


@pytest.mark.parametrize("name", [None, "project/named-temp"])
def test_taskcluster_signed_url_with_query_and_temporary_credentials_verifies(
    name: str | None,
) -> None:
    creds = _official_temp(name)
    queue = _queue(creds, authorizedScopes=["queue:list-task-group:grp"])
    url = queue.buildSignedUrl("listTaskGroup", "grp", query={"limit": 5}, expiration=600)
    parsed, facts = _bewit_parts(url)
    assert facts.resource == "/api/queue/v1/task-group/grp/list?limit=5"
    assert parsed.certificate is not None
    assert parsed.authorized_scopes == ("queue:list-task-group:grp",)
    # The certificate is valid around NOW; buildSignedUrl dates the bewit from the real clock.
    verify_certificate(
        parsed.certificate, client_id=parsed.id, issuer_access_token=TOKEN, now_ms=NOW_MS
    )
    verify_bewit(parsed, signing_key(parsed, TOKEN), facts, now=parsed.exp - 600)


@pytest.mark.parametrize("after", [0, 1, 3600])
def test_expired_taskcluster_bewit_fails(after: int) -> None:
    url = _queue({"clientId": ISSUER, "accessToken": TOKEN}).buildSignedUrl(
        "getTaskGroup", "grp", expiration=60
    )
    parsed, facts = _bewit_parts(url)
    with pytest.raises(HawkError, match="expired"):
        verify_bewit(parsed, TOKEN, facts, now=parsed.exp + after)


def test_sign_bewit_is_identical_to_taskcluster_signed_url() -> None:
    creds = _official_temp("project/named-temp")
    url = _queue(creds).buildSignedUrl("listTaskGroup", "grp", query={"limit": 5}, expiration=600)
    parsed, _ = _bewit_parts(url)
    ours = Credentials(creds["clientId"], creds["accessToken"], creds["certificate"])
    unsigned = f"{ROOT_URL}/api/queue/v1/task-group/grp/list?limit=5"
    assert sign_bewit(ours, unsigned, expires=600, now=parsed.exp - 600) == url


def test_sign_bewit_matches_mohawk_get_bewit() -> None:
    url = f"{ROOT_URL}/api/queue/v1/task/abc"
    ours = sign_bewit(Credentials(ISSUER, TOKEN), url, expires=60, now=NOW)
    resource = mohawk.base.Resource(
        credentials={"id": ISSUER, "key": TOKEN, "algorithm": "sha256"},
        method="GET",
        url=url,
        timestamp=NOW + 60,
        nonce="",
        ext=_queue({"clientId": ISSUER, "accessToken": TOKEN}).makeHawkExt().decode(),
    )
    assert ours == f"{url}?bewit={mohawk.bewit.get_bewit(resource).rstrip('=')}"


@pytest.mark.parametrize(
    ("target", "stripped"),
    [
        ("/a?bewit={b}", "/a"),
        ("/a?x=1&bewit={b}", "/a?x=1"),
        ("/a?bewit={b}&x=1", "/a?x=1"),
        ("/a?x=1&bewit={b}&y=2", "/a?x=1&y=2"),
    ],
)
def test_parse_bewit_strips_the_parameter_anywhere(target: str, stripped: str) -> None:
    signed = sign_bewit(Credentials(ISSUER, TOKEN), f"https://h{stripped}", expires=60, now=NOW)
    bewit = signed.split("bewit=")[1]
    parsed, resource = parse_bewit(target.format(b=bewit))
    assert resource == stripped
    verify_bewit(parsed, TOKEN, RequestFacts("GET", "h", 443, resource), now=NOW)


def test_bewit_accepts_padding() -> None:
    parsed, facts = _bewit_parts(sign_bewit(Credentials(ISSUER, TOKEN), URL, expires=60, now=NOW))
    inner = "\\".join([parsed.id, str(parsed.exp), parsed.mac, parsed.ext or ""]).encode()
    padded = base64.urlsafe_b64encode(inner).decode()
    reparsed, _ = parse_bewit(f"{urlsplit(URL).path}?x=1&bewit={padded}")
    assert reparsed == parsed
    verify_bewit(reparsed, TOKEN, facts, now=NOW)


@pytest.mark.parametrize(
    ("method", "resource", "key"),
    [
        ("POST", "/api/queue/v1/task/abc/claim?x=1", TOKEN),
        ("GET", "/api/queue/v1/task/abc/claim?x=2", TOKEN),
        ("GET", "/api/queue/v1/task/abc/claim?x=1", "not-the-token"),
    ],
    ids=["post", "other-resource", "wrong-key"],
)
def test_misused_bewit_fails(method: str, resource: str, key: str) -> None:
    parsed, facts = _bewit_parts(sign_bewit(Credentials(ISSUER, TOKEN), URL, expires=60, now=NOW))
    with pytest.raises(HawkError):
        verify_bewit(
            parsed, key, msgspec.structs.replace(facts, method=method, resource=resource), now=NOW
        )


def test_head_bewit_verifies() -> None:
    parsed, facts = _bewit_parts(sign_bewit(Credentials(ISSUER, TOKEN), URL, expires=60, now=NOW))
    verify_bewit(parsed, TOKEN, msgspec.structs.replace(facts, method="HEAD"), now=NOW)


def _b(*parts: str) -> str:
    return base64.urlsafe_b64encode("\\".join(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "resource",
    [
        "/a?x=1",
        "/a?bewit=",
        "/a?bewit=a+b",
        f"/a?bewit={_b('id', '1', 'mac')}",
        f"/a?bewit={_b('id', 'soon', 'mac', '')}",
        f"/a?bewit={_b('', '1', 'mac', '')}",
        f"/a?bewit={_b('id', '1', 'mac', 'not-base64!')}",
        f"/a?bewit={_b('id', '1', 'mac', 'e30', 'extra')}",
        "/a?bewit=" + "A" * 5000,
    ],
)
def test_malformed_bewit_fails(resource: str) -> None:
    with pytest.raises(HawkError):
        parse_bewit(resource)


def test_bewit_with_authorization_header_is_rejected() -> None:
    header = sign_header(Credentials(ISSUER, TOKEN), "GET", URL, now=NOW)
    signed = urlsplit(sign_bewit(Credentials(ISSUER, TOKEN), URL, expires=60, now=NOW))
    with pytest.raises(HawkError, match="both"):
        check_single_scheme(header, f"{signed.path}?{signed.query}")
    check_single_scheme(header, "/a?x=1")
    check_single_scheme(None, f"{signed.path}?{signed.query}")


def test_errors_and_reprs_never_contain_secrets() -> None:
    creds = _ours_temp()
    failures = []
    for call in (
        lambda: _server(sign_header(creds, "GET", URL, now=NOW), "POST", URL, b""),
        lambda: verify_header(
            parse_header(sign_header(creds, "GET", URL, now=NOW)),
            TOKEN,
            facts_from_url("GET", URL),
            content_type="",
            body=b"x",
            now=NOW,
        ),
        lambda: verify_certificate(
            msgspec.structs.replace(_cert(creds), scopes=("*",)),
            client_id=ISSUER,
            issuer_access_token=TOKEN,
            now_ms=NOW_MS,
        ),
    ):
        with pytest.raises(HawkError) as caught:
            call()
        failures.append(str(caught.value))
    for text in [*failures, repr(creds), repr(Credentials(ISSUER, TOKEN))]:
        assert TOKEN not in text
        assert creds.access_token not in text


def test_a_new_seed_is_two_nice_version_4_slugids() -> None:

    for _ in range(200):
        seed = hawk._new_seed()
        assert len(seed) == 44
        for half in (seed[:22], seed[22:]):
            raw = base64.urlsafe_b64decode(half + "==")
            assert raw[0] < 0x80  # nice: first bit clear
            made = uuid.UUID(bytes=raw)
            assert (made.version, made.variant) == (4, uuid.RFC_4122)
