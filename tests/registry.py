"""A Docker registry on 127.0.0.1 for tests: the engine pulls from it over plain HTTP (the
loopback is an insecure registry by default). It serves the images it is given, as
manifest v2 with gzipped layers, and answers `manifest unknown` for any other name."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import docker
from aiohttp import web

__all__ = ["Registry", "running_registry"]

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Registry:
    host: str = ""  # 127.0.0.1:<port>
    manifests: dict[tuple[str, str], bytes] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)

    def publish(self, client: docker.DockerClient, local_image: str, name: str, tag: str) -> str:
        """Serve `local_image` as `<host>/<name>:<tag>`; the reference to pull."""
        saved = b"".join(client.images.get(local_image).save())
        with tarfile.open(fileobj=io.BytesIO(saved)) as archive:
            [entry] = json.loads(_read(archive, "manifest.json"))
            config = _read(archive, entry["Config"])
            layers = [gzip.compress(_read(archive, path), 1) for path in entry["Layers"]]
        for blob in (config, *layers):
            self.blobs[_digest(blob)] = blob
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": _digest(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": _digest(layer),
                }
                for layer in layers
            ],
        }
        encoded = json.dumps(manifest).encode()
        self.manifests[name, tag] = self.manifests[name, _digest(encoded)] = encoded
        return f"{self.host}/{name}:{tag}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2/", self._base)
        app.router.add_route("*", "/v2/{name:.+}/manifests/{reference}", self._manifest)
        app.router.add_route("*", "/v2/{name:.+}/blobs/{digest}", self._blob)
        return app

    async def _base(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _manifest(self, request: web.Request) -> web.Response:
        key = (request.match_info["name"], request.match_info["reference"])
        manifest = self.manifests.get(key)
        if manifest is None:
            errors = [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {}}]
            return web.json_response({"errors": errors}, status=404)
        headers = {"Docker-Content-Digest": _digest(manifest), "Content-Type": MANIFEST_TYPE}
        return web.Response(body=manifest, headers=headers)

    async def _blob(self, request: web.Request) -> web.Response:
        blob = self.blobs.get(request.match_info["digest"])
        if blob is None:
            return web.json_response({"errors": [{"code": "BLOB_UNKNOWN"}]}, status=404)
        headers = {"Docker-Content-Digest": request.match_info["digest"]}
        return web.Response(body=blob, content_type="application/octet-stream", headers=headers)


def _read(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.extractfile(name)
    assert member is not None
    return member.read()


@asynccontextmanager
async def running_registry() -> AsyncIterator[Registry]:
    registry = Registry()
    runner = web.AppRunner(registry.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    registry.host = f"127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield registry
    finally:
        await runner.cleanup()
