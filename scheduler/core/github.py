"""GitHub deliveries (protocol.md, "githubWebhook"): signatures and the payload a hook gets.

The signature is checked over the raw body (not re-serialised JSON, which broke Taskcluster's
check), in constant time, keyed with the hook's trigger token. `push` and `pull_request` fire
the hook; `ping` is acknowledged; others, and pushes or pull requests marked `[skip ci]` or
`[ci skip]`, are acknowledged without firing.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

__all__ = ["Delivery", "SignatureError", "delivery_payload", "verify_signature"]

SKIP_MARKERS = ("[skip ci]", "[ci skip]")
TASKS_FOR = {"push": "github-push", "pull_request": "github-pull-request"}


class SignatureError(ValueError):
    """A delivery without a usable signature (status 400) or a forged one (status 403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def verify_signature(secret: str, body: bytes, sha256: str | None, sha1: str | None) -> None:
    """Accept `X-Hub-Signature-256`, or the legacy sha1 `X-Hub-Signature` when it is absent."""
    if sha256:
        algorithm, header = hashlib.sha256, sha256
        prefix = "sha256="
    elif sha1:
        algorithm, header = hashlib.sha1, sha1
        prefix = "sha1="
    else:
        raise SignatureError(400, "the delivery has no X-Hub-Signature-256 header")
    if not header.startswith(prefix):
        raise SignatureError(400, f"the signature header must start with {prefix}")
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    if not hmac.compare_digest(expected, header[len(prefix) :].strip().lower()):
        raise SignatureError(403, "X-Hub-Signature-256 does not match; bad webhook secret?")


@dataclass(frozen=True)
class Delivery:
    """What to do with a delivery: fire with `payload`, or answer `message` without firing."""

    payload: dict[str, Any] | None
    message: str


def _skipped(text: object) -> bool:
    return isinstance(text, str) and any(m in text.lower() for m in SKIP_MARKERS)


def _push(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref = str(body.get("ref", ""))
    details: dict[str, Any] = {"sha": body.get("after"), "ref": ref}
    if ref.startswith("refs/heads/"):
        details["branch"] = ref.removeprefix("refs/heads/")
    elif ref.startswith("refs/tags/"):
        details["tag"] = ref.removeprefix("refs/tags/")
    head = body.get("head_commit") or {}
    if body.get("deleted"):
        return details, "the push deletes a ref"
    if _skipped(head.get("message") if isinstance(head, dict) else None):
        return details, "the head commit asks to skip CI"
    return details, None


def _pull_request(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    pr = body.get("pull_request") or {}
    head = pr.get("head") or {} if isinstance(pr, dict) else {}
    details: dict[str, Any] = {
        "action": body.get("action"),
        "sha": head.get("sha") if isinstance(head, dict) else None,
        "pullRequestNumber": body.get("number"),
    }
    if isinstance(head, dict) and head.get("ref"):
        details["branch"] = head.get("ref")
    if _skipped(pr.get("title") if isinstance(pr, dict) else None):
        return details, "the pull request's title asks to skip CI"
    return details, None


def delivery_payload(event: str, delivery_id: str, body: Any) -> Delivery:
    if event == "ping":
        return Delivery(None, "pong")
    if event not in TASKS_FOR:
        return Delivery(None, f"event {event!r} is acknowledged but does not fire hooks")
    if not isinstance(body, dict):
        raise ValueError("a push or pull_request delivery must be a JSON object")
    details, skip = _push(body) if event == "push" else _pull_request(body)
    if skip is not None:
        return Delivery(None, f"not fired: {skip}")
    repository = body.get("repository") or {}
    payload = {
        "eventType": event,
        "tasks_for": TASKS_FOR[event],
        "deliveryId": delivery_id,
        "repository": repository.get("full_name") if isinstance(repository, dict) else None,
        **details,
        "event": body,
    }
    return Delivery(payload, "fired")
