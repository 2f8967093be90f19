"""`infrax auth`: create, list, show, reset and delete clients stored by the queue."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any

import msgspec

from ..client import Auth
from ..protocol.clients_api import CreateClientRequest
from ..protocol.times import format_ms
from .common import Exit, connection_flags, options_of, run_command

__all__ = ["command"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax auth", description="Manage the queue's clients.", parents=[connection_flags()]
    )
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


async def _run(auth: Auth, args: argparse.Namespace) -> object:
    if args.action == "create-client":
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_days)
        request = CreateClientRequest(
            expires=format_ms(int(expires.timestamp() * 1000)),
            description=args.description,
            scopes=args.scope,
        )
        return await auth.create_client(args.client_id, request)
    if args.action == "list":
        return [c async for c in auth.iter_list_clients(prefix=args.prefix or None)]
    if args.action == "show":
        return await auth.client(args.client_id)
    if args.action == "reset":
        return await auth.reset_access_token(args.client_id)
    await auth.delete_client(args.client_id)
    return {"deleted": args.client_id}


def _text(result: Any) -> str:
    if isinstance(result, list):
        return "\n".join(f"{c['clientId']}\t{' '.join(c['scopes'])}" for c in result)
    lines = [f"{key}: {value}" for key, value in result.items() if key != "accessToken"]
    if "accessToken" in result:
        lines.append(f"accessToken: {result['accessToken']}  (shown once; keep it secret)")
    return "\n".join(lines)


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        async with Auth(options_of(args)) as auth:
            result = msgspec.to_builtins(await _run(auth, args))
        sys.stdout.write((json.dumps(result, indent=2) if args.json else _text(result)) + "\n")
        return Exit.ok

    return run_command("infrax auth", body)
