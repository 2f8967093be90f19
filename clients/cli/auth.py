"""`infrax auth`: create, list, show, reset and delete clients stored by the queue."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .. import hawk
from ..api import ApiCaller, ApiCallError, credentials_from_env
from ..protocol.times import format_ms

__all__ = ["command"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infrax auth", description="Manage the queue's clients.")
    parser.add_argument(
        "--root-url",
        default=os.environ.get("TASKCLUSTER_ROOT_URL"),
        help="the queue's rootUrl [TASKCLUSTER_ROOT_URL]",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="use the root credentials saved in this queue data directory"
        " (otherwise TASKCLUSTER_CLIENT_ID / TASKCLUSTER_ACCESS_TOKEN)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create-client", help="create a client and print its access token")
    create.add_argument("client_id")
    create.add_argument("--scope", action="append", default=[], help="a scope (repeat)")
    create.add_argument("--description", default="")
    create.add_argument("--expires-days", type=float, default=365.0)
    listing = sub.add_parser("list", help="list clients")
    listing.add_argument("--prefix", default="")
    for name, help_text in (
        ("show", "show a client"),
        ("delete", "delete a client"),
        ("reset", "give a client a new access token"),
    ):
        sub.add_parser(name, help=help_text).add_argument("client_id")
    return parser


def _credentials(args: argparse.Namespace) -> hawk.Credentials | None:
    if args.data_dir is not None:
        saved = json.loads((args.data_dir / "root-credentials.json").read_text())
        return hawk.Credentials(saved["clientId"], saved["accessToken"])
    return credentials_from_env()


def _run(caller: ApiCaller, args: argparse.Namespace) -> object:
    if args.action == "create-client":
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_days)
        body = {
            "expires": format_ms(int(expires.timestamp() * 1000)),
            "description": args.description,
            "scopes": args.scope,
        }
        return caller.call("createClient", {"clientId": args.client_id}, body)
    if args.action == "list":
        clients: list[object] = []
        query = {"prefix": args.prefix}
        while True:
            page = caller.call("listClients", query=query)
            clients += page["clients"]
            if "continuationToken" not in page:
                return clients
            query = {"prefix": args.prefix, "continuationToken": page["continuationToken"]}
    if args.action == "show":
        return caller.call("client", {"clientId": args.client_id})
    if args.action == "reset":
        return caller.call("resetAccessToken", {"clientId": args.client_id})
    caller.call("deleteClient", {"clientId": args.client_id})
    return {"deleted": args.client_id}


def _text(result: object) -> str:
    if isinstance(result, list):
        return "\n".join(f"{c['clientId']}\t{' '.join(c['scopes'])}" for c in result)
    assert isinstance(result, dict)
    lines = [f"{key}: {value}" for key, value in result.items() if key != "accessToken"]
    if "accessToken" in result:
        lines.append(f"accessToken: {result['accessToken']}  (shown once; keep it secret)")
    return "\n".join(lines)


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if not args.root_url:
        sys.stderr.write("infrax auth: give --root-url or set TASKCLUSTER_ROOT_URL\n")
        return 2
    caller = ApiCaller(args.root_url, _credentials(args))
    try:
        result = _run(caller, args)
    except ApiCallError as error:
        sys.stderr.write(
            f"infrax auth: {error.status} {error.code}: {error.message.splitlines()[0]}\n"
        )
        return 1
    sys.stdout.write((json.dumps(result, indent=2) if args.json else _text(result)) + "\n")
    return 0
