"""The server's own secrets: the root client's token and the key that derives client tokens.

Both live in the data directory with mode 0600, created at first start; the root token may
instead come from INFRAX_ROOT_ACCESS_TOKEN. Neither is ever logged.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ROOT_CLIENT_ID", "ServerSecrets", "load_secrets"]

ROOT_CLIENT_ID = "root"


@dataclass(frozen=True)
class ServerSecrets:
    root_access_token: str
    secret_key: bytes

    def __repr__(self) -> str:
        return "ServerSecrets(<hidden>)"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def load_secrets(
    data_dir: Path, root_access_token: str | None, secret_key_hex: str | None = None
) -> ServerSecrets:
    data_dir.mkdir(parents=True, exist_ok=True)
    key_path = data_dir / "secret.key"
    if secret_key_hex is None:
        if not key_path.exists():
            _write_private(key_path, secrets.token_hex(32))
        secret_key_hex = key_path.read_text().strip()
    secret_key = bytes.fromhex(secret_key_hex)
    if root_access_token is None:
        creds_path = data_dir / "root-credentials.json"
        if not creds_path.exists():
            token = secrets.token_urlsafe(33)
            _write_private(
                creds_path,
                json.dumps({"clientId": ROOT_CLIENT_ID, "accessToken": token}, indent=2) + "\n",
            )
        root_access_token = str(json.loads(creds_path.read_text())["accessToken"])
    return ServerSecrets(root_access_token, secret_key)
