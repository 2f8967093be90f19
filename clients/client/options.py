"""What a client needs to know: the rootUrl, credentials, retries and timeouts.

Built from the ``TASKCLUSTER_*`` environment variables, as every Taskcluster client does
(protocol.md, "Overview"), or given explicitly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import hawk
from ..protocol.tasks import TaskCredentials
from .errors import ConfigurationError
from .retry import RetryPolicy

__all__ = ["Options", "credentials_from_env", "credentials_from_file", "credentials_of"]


@dataclass(frozen=True)
class Options:
    """How a client reaches the server.

    ``credentials`` None means anonymous calls. ``authorized_scopes`` restricts the calls to
    a subset of the credentials' scopes (protocol.md §7.3). ``timeout_s`` bounds one attempt
    (it must exceed claimWork's 20 s long-poll).
    """

    root_url: str
    credentials: hawk.Credentials | None = None
    authorized_scopes: tuple[str, ...] | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.root_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"rootUrl must be an http(s) URL, not {self.root_url!r}")
        object.__setattr__(self, "root_url", self.root_url.rstrip("/"))
        if self.authorized_scopes is not None:
            object.__setattr__(self, "authorized_scopes", tuple(self.authorized_scopes))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Options:
        """Options from ``TASKCLUSTER_ROOT_URL``, ``TASKCLUSTER_CLIENT_ID``,
        ``TASKCLUSTER_ACCESS_TOKEN`` and ``TASKCLUSTER_CERTIFICATE``; keyword arguments win."""
        env = os.environ if env is None else env
        root_url = overrides.pop("root_url", None) or env.get("TASKCLUSTER_ROOT_URL")
        if not root_url:
            raise ConfigurationError("no rootUrl: set TASKCLUSTER_ROOT_URL or pass root_url")
        if "credentials" not in overrides:
            overrides["credentials"] = credentials_from_env(env)
        return cls(root_url=root_url, **overrides)

    def with_credentials(
        self, credentials: hawk.Credentials | None, authorized_scopes: Sequence[str] | None = None
    ) -> Options:
        scopes = None if authorized_scopes is None else tuple(authorized_scopes)
        return replace(self, credentials=credentials, authorized_scopes=scopes)


def credentials_from_env(env: Mapping[str, str] | None = None) -> hawk.Credentials | None:
    """Credentials from the ``TASKCLUSTER_*`` variables, or None when none are set."""
    env = os.environ if env is None else env
    client_id = env.get("TASKCLUSTER_CLIENT_ID") or ""
    token = env.get("TASKCLUSTER_ACCESS_TOKEN") or ""
    if not client_id and not token:
        return None
    if not client_id or not token:
        raise ConfigurationError(
            "set both TASKCLUSTER_CLIENT_ID and TASKCLUSTER_ACCESS_TOKEN, or neither"
        )
    return hawk.Credentials(client_id, token, env.get("TASKCLUSTER_CERTIFICATE") or None)


def credentials_from_file(path: Path) -> hawk.Credentials:
    """Credentials saved as JSON ``{clientId, accessToken, certificate?}`` (a daemon's own)."""
    try:
        saved = json.loads(path.read_text())
        return hawk.Credentials(
            saved["clientId"], saved["accessToken"], saved.get("certificate") or None
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(f"cannot read credentials from {path}: {error}") from None


def credentials_of(given: TaskCredentials) -> hawk.Credentials:
    """The temporary credentials claimWork and reclaimTask hand out, ready to sign with."""
    return hawk.Credentials(given.client_id, given.access_token, given.certificate or None)
