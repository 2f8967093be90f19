"""A small synchronous caller of any endpoint of the table, Hawk-signed (protocol.md).

It is what the CLI uses until the typed client grows around it. Credentials come from the
TASKCLUSTER_* environment variables or are given explicitly.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import hawk
from .protocol.endpoints import by_name

__all__ = ["ApiCallError", "ApiCaller", "credentials_from_env"]


class ApiCallError(Exception):
    """A non-2xx answer: carries the status and the server's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def credentials_from_env(env: Mapping[str, str] = os.environ) -> hawk.Credentials | None:
    client_id = env.get("TASKCLUSTER_CLIENT_ID")
    token = env.get("TASKCLUSTER_ACCESS_TOKEN")
    if not client_id or not token:
        return None
    return hawk.Credentials(client_id, token, env.get("TASKCLUSTER_CERTIFICATE") or None)


@dataclass(frozen=True)
class ApiCaller:
    root_url: str
    credentials: hawk.Credentials | None = None
    timeout_s: float = 60.0

    def url(
        self, name: str, params: Mapping[str, str], query: Mapping[str, str] | None = None
    ) -> str:
        endpoint = by_name(name)
        route = re.sub(
            r"<([A-Za-z]+)>",
            lambda m: urllib.parse.quote(params[m.group(1)], safe=""),
            endpoint.route,
        )
        url = f"{self.root_url.rstrip('/')}/api/{endpoint.service}/v1{route}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def call(
        self,
        name: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        """Call the endpoint named `name`; the decoded JSON answer (None for 204)."""
        endpoint = by_name(name)
        url = self.url(name, params or {}, query)
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"} if data else {}
        if self.credentials is not None:
            headers["Authorization"] = hawk.sign_header(
                self.credentials,
                endpoint.method,
                url,
                content_type=headers.get("Content-Type", ""),
                body=data,
                now=time.time(),
            )
        request = urllib.request.Request(
            url, data=data or None, method=endpoint.method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise _error(error) from None
        return json.loads(raw) if raw else None


def _error(error: urllib.error.HTTPError) -> ApiCallError:
    try:
        body = json.loads(error.read())
        return ApiCallError(error.code, str(body.get("code", "")), str(body.get("message", "")))
    except ValueError:
        return ApiCallError(error.code, "", error.reason)
