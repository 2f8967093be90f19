"""Queue replicas on one PostgreSQL schema behind nginx on loopback, as docs/deployment.md
deploys them: the replicas listen on ports chosen by port 0, and nginx runs the documented
config (docs/nginx/infrax-queue.conf) with those replicas as its upstream servers."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from .server import STOP_TIMEOUT_S, BenchError, QueueProcess, Secrets, running_queue

__all__ = ["Cluster", "nginx_config", "nginx_path", "running_cluster", "running_nginx"]

SITE = Path(__file__).resolve().parents[1] / "docs" / "nginx" / "infrax-queue.conf"
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Cluster:
    root_url: str  # nginx's
    root_access_token: str
    replicas: list[QueueProcess]

    @property
    def waiter(self) -> QueueProcess:
        return self.replicas[0]

    @property
    def creator(self) -> QueueProcess:
        return self.replicas[-1]

    def cpu_seconds(self) -> float | None:
        """CPU used so far by the replicas still running, together (Linux)."""
        used = [replica.cpu_seconds() for replica in self.replicas]
        known = [seconds for seconds in used if seconds is not None]
        return sum(known) if known else None


def nginx_path() -> str | None:
    """Debian's nginx (scripts/nginx installs it), if present."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
    )


def nginx_config(site: str, listen_port: int, upstreams: list[str], prefix: Path) -> str:
    """The documented site with its example servers and port replaced, inside a main config
    that keeps every file under `prefix` and runs in the foreground."""
    servers = "".join(
        f"    server {address} max_fails=1 fail_timeout=10s;\n" for address in upstreams
    )
    site = re.sub(r"(?m)^    server \S+ [^\n]*\n", "", site, count=0)
    site = site.replace("    least_conn;\n", "    least_conn;\n" + servers, 1)
    site = re.sub(r"(?m)^    listen \d+;", f"    listen 127.0.0.1:{listen_port};", site)
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{\n    access_log off;\n{temp}{site}}}\n"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _answers(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
            http.get(f"{url}/api/queue/v1/ping") as response,
        ):
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


async def _until_answers(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not await _answers(url):
        if process.returncode is not None or time.monotonic() > deadline:
            tail = _tail(log)
            raise BenchError(f"nginx did not answer at {url}:\n{tail}")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def running_nginx(upstreams: list[str]) -> AsyncIterator[str]:
    """nginx on 127.0.0.1 in front of `upstreams` (host:port); yields its URL."""
    binary = nginx_path()
    if binary is None:
        raise BenchError("nginx is not installed (scripts/nginx installs it)")
    with tempfile.TemporaryDirectory(prefix="infrax-nginx-") as tmp:
        prefix = Path(tmp)
        port = _free_port()
        config = prefix / "nginx.conf"
        config.write_text(nginx_config(SITE.read_text(), port, upstreams, prefix))
        process = await asyncio.create_subprocess_exec(
            binary, "-p", str(prefix), "-c", str(config), stderr=asyncio.subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _until_answers(url, process, prefix / "error.log")
            yield url
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@asynccontextmanager
async def running_cluster(
    replicas: int, database_url: str, *extra_args: str
) -> AsyncIterator[Cluster]:
    """`replicas` queue processes on `database_url`, sharing their secrets, behind nginx."""
    shared = Secrets.new()
    async with AsyncExitStack() as stack:
        started = [
            await stack.enter_async_context(
                running_queue(*extra_args, database_url=database_url, shared=shared)
            )
            for _ in range(replicas)
        ]
        upstreams = [replica.root_url.removeprefix("http://") for replica in started]
        url = await stack.enter_async_context(running_nginx(upstreams))
        yield Cluster(url, shared.root_access_token, started)
