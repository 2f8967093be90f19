"""The queue's settings: the only reader of argv and the environment for the queue."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_ANONYMOUS_SCOPES", "EVENT_LOOPS", "Settings", "parse_settings"]

EVENT_LOOPS = ("auto", "uvloop", "asyncio")

# What anyone may do without credentials: read tasks, groups, queues, workers and public
# artifacts (protocol.md, "Auth"). Nothing that changes state.
DEFAULT_ANONYMOUS_SCOPES: tuple[str, ...] = (
    "queue:get-task:*",
    "queue:status:*",
    "queue:list-task-group:*",
    "queue:list-dependent-tasks:*",
    "queue:get-artifact:public/*",
    "queue:list-artifacts:*",
    "queue:pending-count:*",
    "queue:claimed-count:*",
    "queue:pending-list:*",
    "queue:claimed-list:*",
    "queue:list-task-queues",
    "queue:get-task-queue:*",
    "queue:list-provisioners",
    "queue:get-provisioner:*",
    "queue:list-worker-types:*",
    "queue:get-worker-type:*",
    "queue:list-workers:*",
    "queue:get-worker:*",
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path  # INFRAX_DATA_DIR: the SQLite database, the secrets and (by default) blobs
    # INFRAX_DATABASE_URL: postgresql://... to keep the queue in PostgreSQL instead of SQLite
    # (several replicas may then share it); its search_path query parameter picks the schema.
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    database_pool_size: int = 10  # INFRAX_DATABASE_POOL_SIZE: connections per replica
    host: str = "127.0.0.1"  # INFRAX_HOST
    port: int = 8080  # INFRAX_PORT; 0 picks a free port
    public_url: str | None = None  # INFRAX_PUBLIC_URL: the rootUrl when behind a proxy
    # INFRAX_ADVERTISE_URL: where the other replicas reach this one (relayed live logs and
    # shells, protocol.md §18.3); default http://<host>:<port>, or this machine's address
    # when listening on every interface.
    advertise_url: str | None = None
    root_access_token: str | None = None  # INFRAX_ROOT_ACCESS_TOKEN; else generated and saved
    # INFRAX_SECRET_KEY: 64 hex digits; else generated and saved in the data directory. Every
    # replica sharing a database needs the same key and root token (protocol.md, "Scale-out").
    secret_key: str | None = field(default=None, repr=False)
    claim_timeout_s: float = 1200.0  # INFRAX_CLAIM_TIMEOUT: how long a claim lasts (seconds)
    claim_wait_s: float = 20.0  # INFRAX_CLAIM_WAIT: claimWork long-poll (seconds)
    max_deadline_days: float = 5.0  # INFRAX_MAX_DEADLINE_DAYS
    max_dependencies: int = 10000  # INFRAX_MAX_DEPENDENCIES
    max_body_bytes: int = 10 * 1024 * 1024  # INFRAX_MAX_BODY_BYTES
    resolver_interval_s: float = 1.0  # INFRAX_RESOLVER_INTERVAL: claim expiry and deadlines
    expiry_interval_s: float = 600.0  # INFRAX_EXPIRY_INTERVAL: deleting expired tasks
    anonymous_scopes: tuple[str, ...] = field(default=DEFAULT_ANONYMOUS_SCOPES)
    # INFRAX_AMQP_URL: also publish every message to RabbitMQ (amqp://user:pass@host:port/vhost)
    amqp_url: str | None = field(default=None, repr=False)
    amqp_exchange_prefix: str = "exchange/taskcluster-queue/v1/"  # INFRAX_AMQP_EXCHANGE_PREFIX
    amqp_max_backoff_s: float = 30.0  # INFRAX_AMQP_MAX_BACKOFF: longest wait between retries
    blob_dir: Path | None = None  # INFRAX_BLOB_DIR: artifact bytes; default <data dir>/blobs
    # INFRAX_BLOB_STORE: s3://bucket/prefix?endpoint=...&region=... keeps them in S3 instead
    blob_store: str | None = None
    max_artifact_bytes: int = 5 * 1024**3  # INFRAX_MAX_ARTIFACT_BYTES: largest artifact
    upload_url_ttl_s: float = 2700.0  # INFRAX_UPLOAD_URL_TTL: how long a putUrl works (seconds)
    download_url_ttl_s: float = 1800.0  # INFRAX_DOWNLOAD_URL_TTL: signed download URLs
    roles_file: Path | None = None  # INFRAX_ROLES_FILE: {roleId: [scopes]} in YAML or JSON
    events_buffer: int = 1000  # INFRAX_EVENTS_BUFFER: messages an event-stream subscriber may
    # fall behind by before it is dropped
    event_loop: str = "auto"  # INFRAX_EVENT_LOOP: auto (uvloop when installed), uvloop, asyncio

    @property
    def database_path(self) -> Path:
        return self.data_dir / "queue.sqlite3"

    @property
    def blob_path(self) -> Path:
        return self.blob_dir if self.blob_dir is not None else self.data_dir / "blobs"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infrax queue", description="Run the queue server.")
    parser.add_argument(
        "--data-dir", help="directory for the database and secrets [INFRAX_DATA_DIR]"
    )
    parser.add_argument(
        "--database-url",
        help="postgresql://user@host:port/db[?search_path=schema] to use PostgreSQL instead of"
        " SQLite in the data directory [INFRAX_DATABASE_URL]",
    )
    parser.add_argument(
        "--database-pool-size", type=int, help="PostgreSQL connections per replica [10]"
    )
    parser.add_argument("--host", help="address to listen on [INFRAX_HOST, 127.0.0.1]")
    parser.add_argument("--port", type=int, help="port; 0 picks a free one [INFRAX_PORT, 8080]")
    parser.add_argument("--public-url", help="rootUrl as clients see it [INFRAX_PUBLIC_URL]")
    parser.add_argument(
        "--advertise-url",
        help="URL the other replicas reach this one at, not the balancer's"
        " [INFRAX_ADVERTISE_URL, http://<host>:<port>]",
    )
    parser.add_argument("--claim-timeout", type=float, help="seconds a claim lasts [1200]")
    parser.add_argument("--claim-wait", type=float, help="claimWork long-poll seconds [20]")
    parser.add_argument("--max-deadline-days", type=float, help="latest deadline, in days [5]")
    parser.add_argument("--max-dependencies", type=int, help="dependencies per task [10000]")
    parser.add_argument("--max-body-bytes", type=int, help="largest request body [10 MiB]")
    parser.add_argument(
        "--resolver-interval", type=float, help="seconds between resolver passes [1]"
    )
    parser.add_argument("--expiry-interval", type=float, help="seconds between expiry passes [600]")
    parser.add_argument("--blob-dir", help="artifact bytes [INFRAX_BLOB_DIR, <data dir>/blobs]")
    parser.add_argument(
        "--blob-store",
        help="s3://bucket[/prefix][?endpoint=URL&region=R] to keep artifact bytes in an"
        " S3-compatible store instead of --blob-dir [INFRAX_BLOB_STORE]",
    )
    parser.add_argument("--max-artifact-bytes", type=int, help="largest artifact [5 GiB]")
    parser.add_argument("--upload-url-ttl", type=float, help="seconds a putUrl works [2700]")
    parser.add_argument(
        "--download-url-ttl", type=float, help="seconds a signed download URL works [1800]"
    )
    parser.add_argument(
        "--amqp-url",
        help="also publish every message to this RabbitMQ, from a durable outbox [INFRAX_AMQP_URL]",
    )
    parser.add_argument(
        "--amqp-exchange-prefix",
        help="prefix of the topic exchanges [exchange/taskcluster-queue/v1/]",
    )
    parser.add_argument(
        "--amqp-max-backoff", type=float, help="longest wait between AMQP retries, seconds [30]"
    )
    parser.add_argument(
        "--roles-file", help="YAML/JSON mapping of roleId to scopes [INFRAX_ROLES_FILE]"
    )
    parser.add_argument(
        "--events-buffer",
        type=int,
        help="messages an event-stream subscriber may fall behind by before it is dropped [1000]",
    )
    parser.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        help="auto: uvloop when it is installed, else asyncio's own [INFRAX_EVENT_LOOP, auto]",
    )
    parser.add_argument(
        "--anonymous-scope",
        action="append",
        dest="anonymous_scopes",
        help="scope of the anonymous role (repeat; replaces the read-only default)"
        " [INFRAX_ANONYMOUS_SCOPES, space-separated]",
    )
    return parser


_NUMBERS = {
    "port": ("INFRAX_PORT", int),
    "database_pool_size": ("INFRAX_DATABASE_POOL_SIZE", int),
    "claim_timeout": ("INFRAX_CLAIM_TIMEOUT", float),
    "claim_wait": ("INFRAX_CLAIM_WAIT", float),
    "max_deadline_days": ("INFRAX_MAX_DEADLINE_DAYS", float),
    "max_dependencies": ("INFRAX_MAX_DEPENDENCIES", int),
    "max_body_bytes": ("INFRAX_MAX_BODY_BYTES", int),
    "resolver_interval": ("INFRAX_RESOLVER_INTERVAL", float),
    "expiry_interval": ("INFRAX_EXPIRY_INTERVAL", float),
    "max_artifact_bytes": ("INFRAX_MAX_ARTIFACT_BYTES", int),
    "upload_url_ttl": ("INFRAX_UPLOAD_URL_TTL", float),
    "download_url_ttl": ("INFRAX_DOWNLOAD_URL_TTL", float),
    "events_buffer": ("INFRAX_EVENTS_BUFFER", int),
    "amqp_max_backoff": ("INFRAX_AMQP_MAX_BACKOFF", float),
}
_FIELDS = {
    "claim_timeout": "claim_timeout_s",
    "claim_wait": "claim_wait_s",
    "resolver_interval": "resolver_interval_s",
    "expiry_interval": "expiry_interval_s",
    "amqp_max_backoff": "amqp_max_backoff_s",
    "upload_url_ttl": "upload_url_ttl_s",
    "download_url_ttl": "download_url_ttl_s",
}


def _secret_key(text: str) -> str:
    key = text.strip()
    if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
        raise SystemExit("infrax queue: INFRAX_SECRET_KEY must be 64 hexadecimal digits")
    return key


def parse_settings(argv: Sequence[str], env: Mapping[str, str] = os.environ) -> Settings:
    """Flags first, then INFRAX_* variables, then defaults."""
    args = _parser().parse_args(list(argv))
    values: dict[str, object] = {}
    for name, (variable, kind) in _NUMBERS.items():
        given = getattr(args, name)
        if given is None and variable in env:
            given = kind(env[variable])
        if given is not None:
            values[_FIELDS.get(name, name)] = given
    data_dir = args.data_dir or env.get("INFRAX_DATA_DIR") or "./infrax-data"
    for name, variable in (
        ("host", "INFRAX_HOST"),
        ("public_url", "INFRAX_PUBLIC_URL"),
        ("advertise_url", "INFRAX_ADVERTISE_URL"),
        ("database_url", "INFRAX_DATABASE_URL"),
        ("blob_store", "INFRAX_BLOB_STORE"),
        ("amqp_url", "INFRAX_AMQP_URL"),
        ("amqp_exchange_prefix", "INFRAX_AMQP_EXCHANGE_PREFIX"),
        ("event_loop", "INFRAX_EVENT_LOOP"),
    ):
        given = getattr(args, name) or env.get(variable)
        if given:
            values[name] = given
    for name, variable in (("blob_dir", "INFRAX_BLOB_DIR"), ("roles_file", "INFRAX_ROLES_FILE")):
        path = getattr(args, name) or env.get(variable)
        if path:
            values[name] = Path(path)
    if env.get("INFRAX_ROOT_ACCESS_TOKEN"):
        values["root_access_token"] = env["INFRAX_ROOT_ACCESS_TOKEN"]
    if env.get("INFRAX_SECRET_KEY"):
        values["secret_key"] = _secret_key(env["INFRAX_SECRET_KEY"])
    url = values.get("database_url")
    if isinstance(url, str) and not url.startswith(("postgresql://", "postgres://")):
        _parser().error(f"--database-url must start with postgresql://, not {url.split(':')[0]}:")
    store = values.get("blob_store")
    if isinstance(store, str) and not store.startswith("s3://"):
        _parser().error(f"--blob-store must start with s3://, not {store.split(':')[0]}:")
    if args.anonymous_scopes:
        values["anonymous_scopes"] = tuple(args.anonymous_scopes)
    elif "INFRAX_ANONYMOUS_SCOPES" in env:
        values["anonymous_scopes"] = tuple(env["INFRAX_ANONYMOUS_SCOPES"].split())
    if values.get("event_loop", "auto") not in EVENT_LOOPS:
        _parser().error(f"INFRAX_EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}")
    return Settings(data_dir=Path(data_dir), **values)  # type: ignore[arg-type]
