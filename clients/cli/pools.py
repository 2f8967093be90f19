"""`infrax pools`: worker pools, their workers and errors, through the worker-manager API.

The API is the provisioner's (`infrax provisioner` prints its rootUrl): `--provisioner-url`
or INFRAX_PROVISIONER_URL, else the `--root-url` (one rootUrl behind a proxy), else the
provisioner `infrax up` runs (clients/cli/local.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from ..client import ConfigurationError, ResourceNotFound, WorkerManager
from ..protocol.ids import new_slugid
from ..protocol.pool_config import PoolFileEntry, PoolFileError, parse_pools_file
from ..protocol.times import format_ms
from ..protocol.worker_manager import WorkerPool
from .common import Exit, connection_flags, connection_of, run_command

__all__ = ["command"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infrax pools",
        description="Manage worker pools (the provisioner's worker-manager API).",
        parents=[connection_flags()],
    )
    parser.add_argument(
        "--provisioner-url",
        default=os.environ.get("INFRAX_PROVISIONER_URL"),
        help="the provisioner's rootUrl [INFRAX_PROVISIONER_URL, else --root-url, else that of"
        " `infrax up`]",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="list the pools with their capacity")
    sub.add_parser("providers", help="list the providers")
    for name, text in (
        ("show", "a pool, its workers and its latest errors"),
        ("delete", "retire a pool: its workers stop, then it goes"),
        ("errors", "the errors recorded on a pool (failed starts), newest first"),
    ):
        sub.add_parser(name, help=text).add_argument("pool")
    workers = sub.add_parser("workers", help="a pool's workers")
    workers.add_argument("pool")
    workers.add_argument("--state", choices=["requested", "running", "stopping", "stopped"])
    apply = sub.add_parser("apply", help="create or update the pools of a pools file")
    apply.add_argument("file", type=Path)
    for name in ("create", "update"):
        made = sub.add_parser(name, help=f"{name} a pool")
        made.add_argument("pool")
        made.add_argument("--provider", required=True, help="providerId: static, process, docker")
        made.add_argument("--config", default="{}", help="the config: JSON, or @FILE")
        made.add_argument("--description", default="")
        made.add_argument("--owner", default="")
    create_worker = sub.add_parser(
        "create-worker", help="create a static worker; prints the secret it registers with"
    )
    create_worker.add_argument("pool")
    create_worker.add_argument("worker_group")
    create_worker.add_argument("worker_id")
    create_worker.add_argument("--capacity", type=int, default=1)
    create_worker.add_argument("--expires-days", type=float, default=365.0)
    remove = sub.add_parser("remove-worker", help="stop a worker; its runs are retried at once")
    for name in ("pool", "worker_group", "worker_id"):
        remove.add_argument(name)
    return parser


def _config(text: str) -> dict[str, Any]:
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        config = json.loads(raw)
    except ValueError as error:
        raise ConfigurationError(f"--config is not JSON: {error}") from None
    if not isinstance(config, dict):
        raise ConfigurationError("--config must be a JSON object")
    return config


def _read_pools(path: Path) -> dict[str, PoolFileEntry]:
    try:
        return parse_pools_file(path.read_text())
    except (OSError, PoolFileError) as error:
        raise ConfigurationError(f"{path}: {error}") from None


async def _apply(manager: WorkerManager, entries: dict[str, PoolFileEntry]) -> list[WorkerPool]:
    done = []
    for pool_id, entry in entries.items():
        body = msgspec.to_builtins(entry)
        try:
            await manager.worker_pool(pool_id)
        except ResourceNotFound:
            done.append(await manager.create_worker_pool(pool_id, body))
        else:
            done.append(await manager.update_worker_pool(pool_id, body))
    return done


async def _show(manager: WorkerManager, pool_id: str) -> dict[str, Any]:
    pool: dict[str, Any] = msgspec.to_builtins(await manager.worker_pool(pool_id))
    workers = [w async for w in manager.iter_list_workers_for_worker_pool(pool_id)]
    errors = (await manager.list_worker_pool_errors(pool_id, limit=5)).worker_pool_errors
    pool["workers"] = [msgspec.to_builtins(w) for w in workers if w.state != "stopped"]
    pool["latestErrors"] = msgspec.to_builtins(errors)
    return pool


async def _create_worker(manager: WorkerManager, args: argparse.Namespace) -> dict[str, Any]:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_days)
    secret = new_slugid() + new_slugid()
    body = {
        "expires": format_ms(int(expires.timestamp() * 1000)),
        "capacity": args.capacity,
        "providerInfo": {"staticSecret": secret},
    }
    made = await manager.create_worker(args.pool, args.worker_group, args.worker_id, body)
    return {**msgspec.to_builtins(made), "staticSecret": secret}


async def _run(manager: WorkerManager, args: argparse.Namespace) -> Any:
    action = args.action
    if action == "list":
        return [p async for p in manager.iter_list_worker_pools()]
    if action == "providers":
        return [p async for p in manager.iter_list_providers()]
    if action == "show":
        return await _show(manager, args.pool)
    if action == "delete":
        return await manager.delete_worker_pool(args.pool)
    if action == "errors":
        return [e async for e in manager.iter_list_worker_pool_errors(args.pool)]
    if action == "workers":
        return [
            w async for w in manager.iter_list_workers_for_worker_pool(args.pool, state=args.state)
        ]
    if action == "apply":
        return await _apply(manager, _read_pools(args.file))
    if action in ("create", "update"):
        body = {
            "providerId": args.provider,
            "description": args.description,
            "owner": args.owner,
            "emailOnError": False,
            "config": _config(args.config),
        }
        call = manager.create_worker_pool if action == "create" else manager.update_worker_pool
        return await call(args.pool, body)
    if action == "create-worker":
        return await _create_worker(manager, args)
    await manager.remove_worker(args.pool, args.worker_group, args.worker_id)
    return {"removed": f"{args.pool}/{args.worker_group}/{args.worker_id}"}


def _pool_line(pool: dict[str, Any]) -> str:
    return (
        f"{pool['workerPoolId']}\t{pool['providerId']}\tcapacity {pool['currentCapacity']}"
        f" ({pool['runningCount']} running, {pool['requestedCount']} starting,"
        f" {pool['stoppingCount']} stopping)"
    )


def _text(action: str, result: Any) -> str:
    if action in ("list", "apply"):
        return "\n".join(_pool_line(pool) for pool in result)
    if action == "providers":
        return "\n".join(f"{p['providerId']}\t{p['providerType']}" for p in result)
    if action == "errors":
        return "\n".join(_error_line(e) for e in result) or "no errors"
    if action == "workers":
        return "\n".join(_worker_line(w) for w in result)
    if action == "show":
        lines = [_pool_line(result), f"config: {json.dumps(result['config'])}", "workers:"]
        lines += [f"  {_worker_line(w)}" for w in result["workers"]] or ["  none"]
        lines += ["latest errors:"] + [f"  {_error_line(e)}" for e in result["latestErrors"]]
        return "\n".join(lines if result["latestErrors"] else [*lines[:-1], "latest errors: none"])
    lines = [f"{key}: {value}" for key, value in result.items() if key != "staticSecret"]
    if "staticSecret" in result:
        lines.append(f"staticSecret: {result['staticSecret']}  (shown once; the worker's secret)")
    return "\n".join(lines)


def _worker_line(worker: dict[str, Any]) -> str:
    return (
        f"{worker['workerGroup']}/{worker['workerId']}\t{worker['state']}"
        f"\tcapacity {worker['capacity']}\tsince {worker['lastModified']}"
    )


def _error_line(error: dict[str, Any]) -> str:
    first = error["description"].strip().splitlines()[:1]
    detail = f": {first[0]}" if first else ""
    return f"{error['reported']}\t{error['kind']}\t{error['title']}{detail}"


def command(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))

    async def body() -> int:
        args.root_url = args.provisioner_url or args.root_url
        options, local = connection_of(args)
        if local is not None and local.worker_manager_root_url:  # `infrax up`'s provisioner
            options = dataclasses.replace(options, root_url=local.worker_manager_root_url)
        async with WorkerManager(options) as manager:
            result = msgspec.to_builtins(await _run(manager, args))
        text = json.dumps(result, indent=2) if args.json else _text(args.action, result)
        sys.stdout.write(text + "\n")
        return Exit.ok

    return run_command("infrax pools", body)
