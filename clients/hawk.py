"""Hawk authentication as Mozilla Taskcluster uses it (SHA-256, ext = base64 JSON), pure.

A server parses the header or bewit, loads the access token of ``issuer_id(parsed)``, checks
any certificate with ``verify_certificate``, derives the key with ``signing_key``, then verifies.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import msgspec

__all__ = [
    "Certificate",
    "Credentials",
    "HawkError",
    "ParsedBewit",
    "ParsedHeader",
    "RequestFacts",
    "check_single_scheme",
    "create_temporary_credentials",
    "facts_from_url",
    "has_bewit",
    "issue_temporary_credentials",
    "issuer_id",
    "parse_bewit",
    "parse_certificate",
    "parse_header",
    "payload_hash",
    "sign_bewit",
    "sign_header",
    "signing_key",
    "temporary_access_token",
    "verify_bewit",
    "verify_certificate",
    "verify_certificate_times",
    "verify_header",
]

MAX_HEADER_LENGTH = 4096  # the hawk library's limit on header and bewit-URL length
DEFAULT_SKEW = 900.0  # Taskcluster tolerates 15 minutes of clock skew
CERTIFICATE_CLOCK_SKEW_MS = 5 * 60 * 1000
CERTIFICATE_MAX_LIFETIME_MS = 31 * 24 * 60 * 60 * 1000

_SCHEME = re.compile(r"^(\w+)(?:\s+(.*))?$", re.ASCII)
_ATTRIBUTE = re.compile(r'(\w+)="([^"\\]*)"\s*(?:,\s*|$)', re.ASCII)
_VALUE = re.compile(r"^[ \w!#$%&'()*+,\-./:;<=>?@\[\]^`{|}~]+$", re.ASCII)
_BEWIT_URL = re.compile(r"^(/.*)([?&])bewit=([^&$]*)(?:&(.+))?$")
_BEWIT_CHARS = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_B64_CHARS = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")
_INTEGER = re.compile(r"^(0|[1-9][0-9]{0,15})$")
_SCOPE = re.compile(r"^[\x20-\x7e]*$")
_HEADER_KEYS = frozenset({"id", "ts", "nonce", "hash", "ext", "mac"})
# An attribute _ATTRIBUTE takes whose value _VALUE accepts: the fast path of _parse_attributes.
_GOOD_VALUE = r"[ \w!#$%&'()*+,\-./:;<=>?@\[\]^`{|}~]+"
_GOOD_ATTRIBUTE = re.compile(rf'(\w+)="({_GOOD_VALUE})"\s*(?:,\s*|$)', re.ASCII)
EXT_CACHE_SIZE = 2048  # ext texts parsed (servers)
SIGNED_EXT_CACHE_SIZE = 256  # ext texts made (clients)
CONTENT_TYPE_CACHE_SIZE = 64
ORIGIN_CACHE_SIZE = 64  # scheme://host:port texts parsed (clients)
_UNUSUAL_ORIGIN = re.compile(r"[\s?#@\\\[\]]")
_UNUSUAL_PATH = re.compile(r"[\s#]|\?$")
# The whole header as the official Python client (mohawk) and sign_header write it, matched at
# once: what parse_header's general path would make of it, in one call. The ts group is
# _INTEGER's pattern; anything else goes the general way, with its precise errors.
_USUAL_HEADER = re.compile(
    rf'Hawk mac="({_GOOD_VALUE})"(?:, hash="({_GOOD_VALUE})")?, id="({_GOOD_VALUE})", '
    rf'ts="(0|[1-9][0-9]{{0,15}})", nonce="({_GOOD_VALUE})"(?:, ext="({_GOOD_VALUE})")?',
    re.ASCII,
)
_BEWIT_PARAMETER = re.compile(r"^/.*[?&]bewit=")
_URL_SAFE = bytes.maketrans(b"+/", b"-_")
_decode_json = msgspec.json.decode
_encode_json = msgspec.json.encode
_T = TypeVar("_T")


class HawkError(Exception):
    """Authentication failed; the message says why and never contains a secret."""


@dataclass(frozen=True)
class Credentials:
    """Taskcluster credentials; ``certificate`` is JSON text for temporary credentials."""

    client_id: str
    access_token: str = field(repr=False)
    certificate: str | None = None


class Certificate(msgspec.Struct, frozen=True):
    """A temporary-credentials certificate (times in ms since the epoch)."""

    version: int
    scopes: tuple[str, ...]
    start: int
    expiry: int
    seed: str
    signature: str
    issuer: str | None


class ParsedHeader(msgspec.Struct, frozen=True):
    """The attributes of a Hawk ``Authorization`` header and its decoded ``ext``."""

    id: str
    ts: int
    nonce: str
    mac: str
    hash: str | None
    ext: str | None
    certificate: Certificate | None
    authorized_scopes: tuple[str, ...] | None


class ParsedBewit(msgspec.Struct, frozen=True):
    """The parts of a ``bewit`` query parameter and its decoded ``ext``."""

    id: str
    exp: int
    mac: str
    ext: str | None
    certificate: Certificate | None
    authorized_scopes: tuple[str, ...] | None


class RequestFacts(msgspec.Struct, frozen=True):
    """What the server saw: ``resource`` is the raw path plus ``'?' + raw query`` if any."""

    method: str
    host: str
    port: int
    resource: str


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _b64url(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).decode().rstrip("=")


def _hmac(key: str, message: str) -> bytes:
    return hmac.digest(key.encode(), message.encode(), "sha256")


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _decode_b64(text: str, what: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not."""
    core = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        if not _B64_CHARS.match(text):
            raise ValueError(what)
        return base64.b64decode(core + "=" * (-len(core) % 4), validate=True)
    except ValueError:
        raise HawkError(f"{what} is not base64") from None


def _integer(text: str, what: str) -> int:
    if not _INTEGER.match(text):
        raise HawkError(f"{what} is not a non-negative integer")
    return int(text)


def _scopes(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise HawkError(f"{what} must be an array")
    if not all(isinstance(s, str) and _SCOPE.match(s) for s in value):
        raise HawkError(f"{what} must be an array of valid scopes")
    return tuple(value)


def _typed(obj: Mapping[str, object], key: str, kind: type[_T]) -> _T:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise HawkError(f"ext.certificate.{key} must be of type {kind.__name__}")
    return value


def parse_certificate(value: object) -> Certificate:
    """Check the shape of a certificate (a decoded JSON object), not its signature."""
    if not isinstance(value, Mapping):
        raise HawkError("ext.certificate must be a JSON object")
    if _typed(value, "version", int) != 1:
        raise HawkError("ext.certificate.version must be 1")
    if len(seed := _typed(value, "seed", str)) != 44:
        raise HawkError("ext.certificate.seed must be 44 characters")
    issuer = value.get("issuer")
    if issuer is not None and (not isinstance(issuer, str) or not issuer):
        raise HawkError("ext.certificate.issuer must be a non-empty string")
    if issuer is None and "clientId" in value:
        raise HawkError("ext.certificate.clientId must only be used with ext.certificate.issuer")
    scopes = _scopes(value.get("scopes"), "ext.certificate.scopes")
    start, expiry = _typed(value, "start", int), _typed(value, "expiry", int)
    return Certificate(1, scopes, start, expiry, seed, _typed(value, "signature", str), issuer)


def _parse_ext(ext: str | None) -> tuple[Certificate | None, tuple[str, ...] | None]:
    if not ext:
        return None, None
    return _parse_ext_text(ext)


class _WireCertificate(msgspec.Struct, frozen=True):
    """A certificate as ext carries it, when it has the usual shape (see _parse_ext_text)."""

    version: int
    scopes: tuple[str, ...]
    start: int
    expiry: int
    seed: str
    signature: str
    issuer: str | None = None
    clientId: msgspec.Raw = msgspec.Raw()  # noqa: N815 (its name in ext)


class _WireExt(msgspec.Struct, frozen=True):
    certificate: _WireCertificate | None = None
    authorizedScopes: tuple[str, ...] | None = None  # noqa: N815 (its name in ext)


_decode_ext = msgspec.json.Decoder(_WireExt).decode


@functools.lru_cache(maxsize=EXT_CACHE_SIZE)
def _parse_ext_text(ext: str) -> tuple[Certificate | None, tuple[str, ...] | None]:
    """The certificate and authorizedScopes of an ext, by its text (the same credentials send
    the same ext with every request: a run's reclaims, artifacts and report). Only shapes are
    checked here, never signatures or times, and what is cached is immutable; an ext that
    fails is not cached."""
    # The usual ext decoded to its types at once; anything else, or anything these checks
    # (parse_certificate's) refuse, goes the general way for its precise error.
    try:
        wire = _decode_ext(_decode_b64(ext, "ext"))
    except (HawkError, msgspec.DecodeError):
        return _parse_any_ext(ext)
    cert, authorized = wire.certificate, wire.authorizedScopes
    if authorized is not None and not all(map(_SCOPE.match, authorized)):
        return _parse_any_ext(ext)
    if cert is None:
        return None, authorized
    if (
        cert.version != 1
        or len(cert.seed) != 44
        or (cert.issuer == "" if cert.issuer is not None else len(cert.clientId) > 0)
        or not all(map(_SCOPE.match, cert.scopes))
    ):
        return _parse_any_ext(ext)
    certificate = Certificate(
        1, cert.scopes, cert.start, cert.expiry, cert.seed, cert.signature, cert.issuer
    )
    return certificate, authorized


def _parse_any_ext(ext: str) -> tuple[Certificate | None, tuple[str, ...] | None]:
    try:
        obj = _decode_json(_decode_b64(ext, "ext"))
    except (ValueError, msgspec.DecodeError):
        raise HawkError("ext is not base64-encoded JSON") from None
    if not isinstance(obj, dict):
        raise HawkError("ext must be a JSON object")
    cert, scopes = obj.get("certificate"), obj.get("authorizedScopes")
    return (
        None if cert is None else parse_certificate(cert),
        None if scopes is None else _scopes(scopes, "ext.authorizedScopes"),
    )


def _mac(
    key: str, kind: str, ts: int, nonce: str, facts: RequestFacts, hash_: str, ext: str
) -> str:
    """Hawk v1 MAC over the normalized string of kind ``header`` or ``bewit``."""
    method = "GET" if kind == "bewit" else facts.method.upper()
    normalized = (
        f"hawk.1.{kind}\n{ts}\n{nonce}\n{method}\n{facts.resource}\n{facts.host.lower()}\n"
        f"{facts.port}\n{hash_}\n{ext}\n"
    )
    return _b64(_hmac(key, normalized))


def payload_hash(content_type: str, body: bytes) -> str:
    """The Hawk payload hash of a body under its Content-Type (parameters dropped)."""
    return _b64(hashlib.sha256(_payload_prefix(content_type) + body + b"\n").digest())


@functools.lru_cache(maxsize=CONTENT_TYPE_CACHE_SIZE)
def _payload_prefix(content_type: str) -> bytes:
    """What the payload hash hashes before the body, by the Content-Type header's value."""
    mime = content_type.split(";")[0].strip().lower()
    return b"hawk.1.payload\n" + mime.encode() + b"\n"


def _parse_attributes(text: str) -> dict[str, str]:
    """The attributes of a header, each once, each value of the allowed characters."""
    # One regex for the usual header; anything it does not take whole gets the checks below
    # one by one, for their precise errors.
    attributes: dict[str, str] = {}
    position = 0
    for match in _GOOD_ATTRIBUTE.finditer(text):
        key = match.group(1)
        if match.start() != position or key not in _HEADER_KEYS or key in attributes:
            break
        attributes[key], position = match.group(2), match.end()
    if position == len(text):
        return attributes
    return _parse_attributes_checked(text)


def _parse_attributes_checked(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    position = 0
    for match in _ATTRIBUTE.finditer(text):
        key, value = match.group(1), match.group(2)
        if match.start() != position:
            break
        if key not in _HEADER_KEYS:
            raise HawkError(f"unsupported Hawk attribute {key[:20]!r}")
        if not _VALUE.match(value) or key in attributes:
            raise HawkError(f"bad or duplicate Hawk attribute {key!r}")
        attributes[key], position = value, match.end()
    if position != len(text):
        raise HawkError("malformed Hawk header")
    return attributes


def parse_header(value: str) -> ParsedHeader:
    """Parse an ``Authorization: Hawk ...`` value, decoding and shape-checking ``ext``."""
    if len(value) > MAX_HEADER_LENGTH:
        raise HawkError("Hawk header is too long")
    usual = _USUAL_HEADER.fullmatch(value)
    if usual is not None:
        mac, hash_, id_, ts, nonce, ext = usual.groups()
        cert, authorized = _parse_ext(ext)
        return ParsedHeader(id_, int(ts), nonce, mac, hash_, ext, cert, authorized)
    match = _SCHEME.match(value)
    if not match or match.group(1).lower() != "hawk" or not match.group(2):
        raise HawkError("not a Hawk authorization header")
    attrs = _parse_attributes(match.group(2))
    if missing := [k for k in ("id", "ts", "nonce", "mac") if k not in attrs]:
        raise HawkError(f"Hawk header lacks {', '.join(missing)}")
    ts, ext = _integer(attrs["ts"], "Hawk ts"), attrs.get("ext")
    cert, authorized = _parse_ext(ext)
    return ParsedHeader(
        attrs["id"], ts, attrs["nonce"], attrs["mac"], attrs.get("hash"), ext, cert, authorized
    )


def issuer_id(parsed: ParsedHeader | ParsedBewit) -> str:
    """The clientId whose stored access token is the root key for this request."""
    cert = parsed.certificate
    return cert.issuer if cert is not None and cert.issuer else parsed.id


def signing_key(parsed: ParsedHeader | ParsedBewit, issuer_access_token: str) -> str:
    """The Hawk key: the issuer's token, or the token derived from the certificate seed."""
    if parsed.certificate is None:
        return issuer_access_token
    return temporary_access_token(issuer_access_token, parsed.certificate.seed)


def verify_header(
    parsed: ParsedHeader,
    key: str,
    facts: RequestFacts,
    *,
    content_type: str,
    body: bytes | None,
    now: float,
    skew: float = DEFAULT_SKEW,
) -> None:
    """Check the MAC, the payload hash (when the header has one) and the timestamp.

    `body` None leaves the payload hash to the caller, who has the body (authenticateHawk).
    """
    hash_, ext = parsed.hash or "", parsed.ext or ""
    if not _equal(_mac(key, "header", parsed.ts, parsed.nonce, facts, hash_, ext), parsed.mac):
        raise HawkError("Hawk MAC does not match the request")
    if (
        parsed.hash is not None
        and body is not None
        and not _equal(payload_hash(content_type, body), parsed.hash)
    ):
        raise HawkError("payload hash does not match the request body")
    if abs(parsed.ts - now) > skew:
        raise HawkError("Hawk timestamp is outside the allowed clock skew")


def has_bewit(resource: str) -> bool:
    """Whether the request target carries a ``bewit`` query parameter."""
    return "bewit=" in resource and _BEWIT_PARAMETER.match(resource) is not None


def check_single_scheme(authorization: str | None, resource: str) -> None:
    """Reject a request that uses both an Authorization header and a bewit."""
    if authorization and has_bewit(resource):
        raise HawkError("cannot use both a bewit and an Authorization header")


def parse_bewit(resource: str) -> tuple[ParsedBewit, str]:
    """Extract the bewit from a request target; also return the target without it."""
    match = _BEWIT_URL.match(resource) if len(resource) <= MAX_HEADER_LENGTH else None
    if not match or not match.group(3):
        raise HawkError("no usable bewit in the request")
    if not _BEWIT_CHARS.match(match.group(3)):
        raise HawkError("invalid character in bewit")
    try:
        parts = _decode_b64(match.group(3), "bewit").decode("utf-8").split("\\")
    except UnicodeDecodeError:
        raise HawkError("bewit is not valid UTF-8") from None
    if len(parts) != 4 or not all(parts[:3]):
        raise HawkError("bewit must be id, expiry, mac and ext")
    stripped = match.group(1) + (match.group(2) + match.group(4) if match.group(4) else "")
    cert, authorized = _parse_ext(parts[3])
    exp = _integer(parts[1], "bewit expiry")
    return ParsedBewit(parts[0], exp, parts[2], parts[3] or None, cert, authorized), stripped


def verify_bewit(parsed: ParsedBewit, key: str, facts: RequestFacts, *, now: float) -> None:
    """Check method, expiry and MAC; ``facts.resource`` must have the bewit removed."""
    if facts.method.upper() not in ("GET", "HEAD"):
        raise HawkError("bewits are only valid for GET and HEAD")
    if parsed.exp <= now:
        raise HawkError("bewit has expired")
    if not _equal(_mac(key, "bewit", parsed.exp, "", facts, "", parsed.ext or ""), parsed.mac):
        raise HawkError("bewit MAC does not match the request")


def _certificate_signature(key: str, cert: Certificate, client_id: str) -> str:
    named = [f"clientId:{client_id}", f"issuer:{cert.issuer}"] if cert.issuer else []
    times = [f"seed:{cert.seed}", f"start:{cert.start}", f"expiry:{cert.expiry}"]
    return _b64(_hmac(key, "\n".join(["version:1", *named, *times, "scopes:", *cert.scopes])))


def verify_certificate(
    cert: Certificate, *, client_id: str, issuer_access_token: str, now_ms: int
) -> None:
    """Check version, validity window, lifetime, issuer and signature of a certificate."""
    checks = (
        (cert.version == 1, "version must be 1"),
        (len(cert.seed) == 44, "seed must be 44 characters"),
        (cert.start <= now_ms + CERTIFICATE_CLOCK_SKEW_MS, "start is in the future"),
        (cert.expiry >= now_ms - CERTIFICATE_CLOCK_SKEW_MS, "expiry is in the past"),
        (cert.expiry - cert.start <= CERTIFICATE_MAX_LIFETIME_MS, "lasts longer than 31 days"),
        (cert.issuer != client_id, "issuer must differ from the supplied clientId"),
    )
    for ok, problem in checks:
        if not ok:
            raise HawkError(f"ext.certificate: {problem}")
    if not _equal(_certificate_signature(issuer_access_token, cert, client_id), cert.signature):
        suffix = ", or wrong clientId provided" if cert.issuer else ""
        raise HawkError(f"ext.certificate: signature is not valid{suffix}")


def verify_certificate_times(cert: Certificate, *, now_ms: int) -> None:
    """The only checks of verify_certificate that depend on the time: for a certificate that
    passed all of them before, with the same clientId and issuer token (a server's cache)."""
    if cert.start > now_ms + CERTIFICATE_CLOCK_SKEW_MS:
        raise HawkError("ext.certificate: start is in the future")
    if cert.expiry < now_ms - CERTIFICATE_CLOCK_SKEW_MS:
        raise HawkError("ext.certificate: expiry is in the past")


def temporary_access_token(issuer_access_token: str, seed: str) -> str:
    """The access token of temporary credentials: URL-safe base64 HMAC of the seed, unpadded."""
    return _b64url(_hmac(issuer_access_token, seed))


def _uuid_bits(byte_values: dict[int, int]) -> int:
    """A 32-byte big-endian mask with these byte values, the same in both 16-byte halves."""
    mask = bytearray(32)
    for index, value in byte_values.items():
        mask[index] = mask[index + 16] = value
    return int.from_bytes(mask)


# What a random 32 bytes keep and get to be two "nice" v4 UUIDs: the first bit clear (nice),
# the version (4) in byte 6, the RFC 4122 variant in byte 8.
_SEED_KEPT = ~_uuid_bits({0: 0x80, 6: 0xF0, 8: 0xC0}) & (2**256 - 1)
_SEED_SET = _uuid_bits({6: 0x40, 8: 0x80})


def _new_seed() -> str:
    """Two "nice" slugids (random v4 UUIDs with the first bit clear), as the official clients
    make the seed, from one read of the random source."""
    raw = ((int.from_bytes(os.urandom(32)) & _SEED_KEPT) | _SEED_SET).to_bytes(32)
    return _b64url(raw[:16]) + _b64url(raw[16:])


def create_temporary_credentials(
    *,
    issuer_client_id: str,
    issuer_access_token: str,
    start_ms: int,
    expiry_ms: int,
    scopes: Sequence[str],
    name: str | None = None,
    seed: str | None = None,
) -> Credentials:
    """Issue temporary credentials, named (``name``) or not, lasting at most 31 days."""
    credentials, _ = issue_temporary_credentials(
        issuer_client_id=issuer_client_id,
        issuer_access_token=issuer_access_token,
        start_ms=start_ms,
        expiry_ms=expiry_ms,
        scopes=scopes,
        name=name,
        seed=seed,
    )
    return credentials


def issue_temporary_credentials(
    *,
    issuer_client_id: str,
    issuer_access_token: str,
    start_ms: int,
    expiry_ms: int,
    scopes: Sequence[str],
    name: str | None = None,
    seed: str | None = None,
) -> tuple[Credentials, Certificate]:
    """create_temporary_credentials, and their certificate as parse_header reads it from a
    request signed with them. It passes every check of verify_certificate with the issuer's
    token and the credentials' clientId but the time ones, which depend on when it is used."""
    if not start_ms <= expiry_ms <= start_ms + CERTIFICATE_MAX_LIFETIME_MS:
        raise HawkError("temporary credentials must last between 0 and 31 days")
    if name and name == issuer_client_id:
        raise HawkError("a named temporary credential must differ from its issuer")
    seed = _new_seed() if seed is None else seed
    if len(seed) != 44:
        raise HawkError("seed must be 44 characters")
    issuer = issuer_client_id if name else None
    listed = list(scopes)
    unsigned = Certificate(1, _scopes(listed, "scopes"), start_ms, expiry_ms, seed, "", issuer)
    signature = _certificate_signature(issuer_access_token, unsigned, name or "")
    body: dict[str, object] = {"version": 1, "scopes": listed, "start": start_ms}
    body.update(expiry=expiry_ms, seed=seed, **({"issuer": issuer} if issuer else {}))
    body["signature"] = signature
    token = temporary_access_token(issuer_access_token, seed)
    # Compact JSON, as json.dumps(separators=(",", ":")) writes it (the scopes are ASCII).
    credentials = Credentials(name or issuer_client_id, token, _encode_json(body).decode())
    return credentials, msgspec.structs.replace(unsigned, signature=signature)


def facts_from_url(method: str, url: str) -> RequestFacts:
    """Request facts for an absolute http(s) URL; the port defaults to 80 or 443."""
    # The usual URL, `scheme://host[:port]/path[?query]`, is cut at its path, whose origin is
    # parsed once; a URL that urlsplit might read otherwise than the cut (userinfo, IPv6, no
    # path, a fragment, spaces or control characters, an empty query) is parsed whole.
    path_at = url.find("/", url.find("://") + 3)
    if path_at > 0:
        origin, path = url[:path_at], url[path_at:]
        if (
            origin.isprintable()
            and path.isprintable()
            and not _UNUSUAL_ORIGIN.search(origin)
            and not _UNUSUAL_PATH.search(path)
        ):
            host, port = _origin(origin)
            return RequestFacts(method.upper(), host, port, path)
    return _facts_from_any_url(method, url)


@functools.lru_cache(maxsize=ORIGIN_CACHE_SIZE)
def _origin(origin: str) -> tuple[str, int]:
    """The host and port of a `scheme://host[:port]`, by its text (the same for every request
    to a service)."""
    facts = _facts_from_any_url("GET", origin + "/")
    return facts.host, facts.port


def _facts_from_any_url(method: str, url: str) -> RequestFacts:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HawkError("url must be an absolute http or https URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise HawkError("url has an invalid port") from None
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return RequestFacts(method.upper(), parts.hostname, port, resource)


def _make_ext(credentials: Credentials, authorized_scopes: Sequence[str] | None) -> str:
    """The ext the official Python client sends: URL-safe base64 (padded) of compact JSON;
    refuses a client id Hawk cannot carry."""
    authorized = None if authorized_scopes is None else tuple(authorized_scopes)
    return _make_ext_text(credentials.client_id, credentials.certificate, authorized)


@functools.lru_cache(maxsize=SIGNED_EXT_CACHE_SIZE)
def _make_ext_text(
    client_id: str, certificate: str | None, authorized_scopes: tuple[str, ...] | None
) -> str:
    """_make_ext by its inputs: the same for every request signed with the same credentials."""
    _check_value(client_id, "client id")
    ext: dict[str, object] = {}
    if certificate:
        try:
            ext["certificate"] = json.loads(certificate)
        except ValueError:
            raise HawkError("credentials.certificate is not valid JSON") from None
    if authorized_scopes is not None:
        ext["authorizedScopes"] = list(_scopes(list(authorized_scopes), "authorized_scopes"))
    return base64.urlsafe_b64encode(json.dumps(ext, separators=(",", ":")).encode()).decode()


def _check_value(value: str, what: str) -> None:
    if not _VALUE.match(value) or "\\" in value:
        raise HawkError(f"{what} contains characters Hawk does not allow")


def sign_header(
    credentials: Credentials,
    method: str,
    url: str,
    *,
    content_type: str = "",
    body: bytes = b"",
    now: float,
    nonce: str | None = None,
    authorized_scopes: Sequence[str] | None = None,
) -> str:
    """A full ``Hawk ...`` Authorization header value for a request to an absolute URL."""
    facts, ext = facts_from_url(method, url), _make_ext(credentials, authorized_scopes)
    if nonce is None:
        nonce = _b64url(os.urandom(6))  # as secrets.token_urlsafe(6) makes it
    else:
        _check_value(nonce, "nonce")
    ts, hash_ = int(now), payload_hash(content_type, body)
    mac = _mac(credentials.access_token, "header", ts, nonce, facts, hash_, ext)
    return (
        f'Hawk mac="{mac}", hash="{hash_}", id="{credentials.client_id}", ts="{ts}", '
        f'nonce="{nonce}", ext="{ext}"'
    )


def sign_bewit(credentials: Credentials, url: str, *, expires: int, now: float) -> str:
    """``url`` with a ``bewit`` parameter valid until ``now + expires`` (seconds)."""
    facts, ext, exp = facts_from_url("GET", url), _make_ext(credentials, None), int(now + expires)
    mac = _mac(credentials.access_token, "bewit", exp, "", facts, "", ext)
    bewit = _b64url("\\".join([credentials.client_id, str(exp), mac, ext]).encode())
    parts = urlsplit(url)
    query = f"{parts.query}&bewit={bewit}" if parts.query else f"bewit={bewit}"
    return urlunsplit(parts._replace(query=query))
