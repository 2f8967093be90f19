"""The local test image: Debian's busybox-static imported as a one-layer image.

No registry is reachable here (ARCHITECTURE.md, decision 5), so the Docker tests and the bench
build their image from `/bin/busybox` (`scripts/docker-engine` installs it): the binary, one
symlink per applet (never one named `busybox`, which would replace the binary), `/tmp`, and a
passwd file with root and nobody. The tag carries a digest of the binary and of this recipe,
so a second run, or another checkout on the same engine, reuses the image.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import docker
import docker.errors

__all__ = ["BUSYBOX", "REPOSITORY", "busybox_image"]

BUSYBOX = Path("/bin/busybox")
REPOSITORY = "infrax-test/busybox"
RECIPE = "2"  # bump when the file system below changes
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"


def busybox_image(client: docker.DockerClient) -> str:
    """The tag of the busybox test image, importing it into the engine first if need be."""
    binary = BUSYBOX.read_bytes()
    digest = hashlib.sha256(binary + RECIPE.encode()).hexdigest()[:12]
    tag = f"{REPOSITORY}:{digest}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        client.api.import_image_from_data(
            _rootfs(binary), repository=REPOSITORY, tag=digest, changes=["ENV PATH=/bin"]
        )
    return tag


def _applets() -> list[str]:
    listed = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [name for name in listed if name != "busybox"]


def _rootfs(binary: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700)):
            entry = tarfile.TarInfo(directory)
            entry.type, entry.mode = tarfile.DIRTYPE, mode
            tar.addfile(entry)
        _add_file(tar, "bin/busybox", binary, 0o755)
        _add_file(tar, "etc/passwd", PASSWD, 0o644)
        _add_file(tar, "etc/group", GROUP, 0o644)
        for applet in _applets():
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buffer.getvalue()


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    entry = tarfile.TarInfo(name)
    entry.size, entry.mode = len(data), mode
    tar.addfile(entry, io.BytesIO(data))
