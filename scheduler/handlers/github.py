"""The GitHub webhook receiver (protocol.md, "githubWebhook"), an infrax extension.

Point a repository's webhook at `<hooks rootUrl>/api/hooks/v1/hooks/<group>/<id>/github`,
content type `application/json`, with the hook's trigger token as the secret. The token never
travels: GitHub signs each delivery with it (`X-Hub-Signature-256`), and the signature is
checked over the raw body before anything else is read.
"""

from __future__ import annotations

import json

from clients.protocol.errors import ApiError, ErrorCode, input_error, not_found
from clients.protocol.hook_endpoints import GithubWebhookResponse

from ..core.github import SignatureError, delivery_payload, verify_signature
from ..dispatch import Call, handles
from ..keys import STORE
from .triggers import fire_from_api

__all__: list[str] = []


@handles("githubWebhook")
async def github_webhook(call: Call) -> GithubWebhookResponse:
    row = await call.app[STORE].get_hook(call.params["hookGroupId"], call.params["hookId"])
    if row is None:
        raise not_found("No such hook")
    headers = call.request.headers
    try:
        verify_signature(
            row.token, call.raw, headers.get("X-Hub-Signature-256"), headers.get("X-Hub-Signature")
        )
    except SignatureError as error:
        code = ErrorCode.insufficient_scopes if error.status == 403 else ErrorCode.input_error
        raise ApiError(code, str(error)) from None
    event = headers.get("X-GitHub-Event")
    if not event:
        raise input_error("Missing X-GitHub-Event")
    try:
        body = json.loads(call.raw) if call.raw else None
        delivery = delivery_payload(event, headers.get("X-GitHub-Delivery", ""), body)
    except ValueError as error:
        raise input_error(f"the delivery is not a usable JSON object: {error}") from None
    if delivery.payload is None:
        return GithubWebhookResponse(message=delivery.message)
    fired = await fire_from_api(call, row, "githubWebhook", delivery.payload)
    task_id = fired.task_id if isinstance(fired.task_id, str) else ""
    return GithubWebhookResponse(
        message="fired" if task_id else "rendered to null", task_id=task_id
    )
