"""Access tokens of stored clients, derived from the server's secret key (protocol.md, "Auth").

Hawk needs the server to know each client's key, so keys cannot be stored as one-way hashes.
Instead the database holds only a random salt per client; the token is
HMAC-SHA256(secret key, clientId + salt). A copy of the database alone reveals no token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["QUEUE_ISSUER", "derive_token", "new_salt"]

# The identity that signs the temporary credentials handed to workers with each claim.
QUEUE_ISSUER = "static/infrax/queue"


def new_salt() -> str:
    return secrets.token_urlsafe(24)


def derive_token(secret_key: bytes, client_id: str, salt: str) -> str:
    mac = hmac.new(secret_key, f"{client_id}\n{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
