"""The worker image of the docker provider, built locally from this installation.

No registry is assumed (ARCHITECTURE.md, decision 5), so the image is assembled from what runs
the provisioner: this Python interpreter and its standard library (at the same paths, so it
finds itself), the distributions infrax needs at run time, the `clients` and `worker` packages
of this checkout, the shared libraries all of these link to (as `ldd` lists them), and
busybox for the shell tasks run with. It is imported as one layer with `docker import`. The
tag carries a digest of all of it, so an unchanged installation reuses its image and a changed
one gets a new one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import re
import subprocess
import sys
import sysconfig
import tarfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import docker
import docker.errors

__all__ = ["REPOSITORY", "ensure_worker_image", "image_files"]

REPOSITORY = "infrax-worker"
RECIPE = "1"  # bump when the layout below changes
SITE = "/opt/infrax/site-packages"
SOURCE = "/opt/infrax/src"
BUSYBOX = Path("/bin/busybox")
PACKAGES = ("clients", "worker")
_STDLIB_SKIP = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"}
_STDLIB_SKIP |= {f"config-{sys.version_info.major}.{sys.version_info.minor}-x86_64-linux-gnu"}
_EXTRA_LIBS = ("libgcc_s.so.1",)  # dlopened by glibc when a thread is cancelled
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"
HOSTS = b"127.0.0.1 localhost\n::1 localhost\n"


def _source_root() -> Path:
    import clients

    return Path(clients.__file__).resolve().parent.parent


def _runtime_distributions() -> list[metadata.Distribution]:
    """infrax's run-time requirements and theirs (extras left out), as installed here."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [req for req in metadata.requires("infrax") or [] if "extra ==" not in req]
    while todo:
        name = re.split(r"[\s;<>=!~\[(]", todo.pop(), maxsplit=1)[0]
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python
        seen[key] = dist
        todo += [req for req in dist.requires or [] if "extra ==" not in req]
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def image_files() -> Iterator[tuple[str, Path]]:
    """(path in the image, path here) of every file the image holds, but busybox's."""
    executable = Path(sys.executable).resolve()
    yield str(executable), executable
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*")):
        relative = path.relative_to(stdlib)
        if path.is_file() and not _STDLIB_SKIP & set(relative.parts[:1]) and _wanted(path):
            yield str(path), path
    for dist in _runtime_distributions():
        for entry in dist.files or []:
            local = Path(str(dist.locate_file(entry))).resolve()
            if local.is_file() and ".." not in entry.parts:
                yield f"{SITE}/{entry}", local
    root = _source_root()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield f"{SOURCE}/{path.relative_to(root)}", path


def _wanted(path: Path) -> bool:
    """Not the optimised byte code (never used) nor Tk (never imported, and it pulls in X11)."""
    return not (".opt-" in path.name or path.name.startswith(("_tkinter", "config-3")))


def _shared_libraries(files: list[Path]) -> set[Path]:
    """Every library the binaries among `files` link to, with the dynamic loader."""
    binaries = [
        str(p)
        for p in files
        if p.suffix == ".so" or ".so." in p.name or p.name.startswith("python")
    ]
    found: set[Path] = set()
    for start in range(0, len(binaries), 200):
        listed = subprocess.run(
            ["ldd", *binaries[start : start + 200]], capture_output=True, text=True, check=False
        ).stdout
        for match in re.finditer(r"(?:=>\s*)?(/\S+)\s+\(0x", listed):
            found.add(Path(match.group(1)))
    for name in _EXTRA_LIBS:
        found |= {
            p for p in (Path("/lib/x86_64-linux-gnu") / name, Path("/usr/lib") / name) if p.exists()
        }
    return found


def _digest(files: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256(RECIPE.encode())
    for inside, local in files:
        digest.update(inside.encode())
        digest.update(hashlib.sha256(local.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    entry = tarfile.TarInfo(name.lstrip("/"))
    entry.size, entry.mode = len(data), mode
    tar.addfile(entry, io.BytesIO(data))


def _rootfs(files: list[tuple[str, Path]], libraries: set[Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (("tmp", 0o1777), ("work", 0o755), ("root", 0o700)):
            entry = tarfile.TarInfo(directory)
            entry.type, entry.mode = tarfile.DIRTYPE, mode
            tar.addfile(entry)
        for inside, local in files:
            tar.add(str(local), arcname=inside.lstrip("/"), recursive=False)
        for library in sorted(libraries):
            tar.add(str(library.resolve()), arcname=str(library).lstrip("/"), recursive=False)
        _add(tar, "bin/busybox", BUSYBOX.read_bytes(), 0o755)
        for applet in _applets():
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        _add(tar, "etc/passwd", PASSWD)
        _add(tar, "etc/group", GROUP)
        _add(tar, "etc/hosts", HOSTS)
    return buffer.getvalue()


def _applets() -> list[str]:
    listed = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.split() if name != "busybox"]


def ensure_worker_image(client: docker.DockerClient) -> str:
    """The tag of the worker image of this installation, importing it first if need be
    (blocking: run it in a thread)."""
    files = list(image_files())
    tag = _digest(files)
    image = f"{REPOSITORY}:{tag}"
    try:
        client.images.get(image)
        return image
    except docker.errors.ImageNotFound:
        pass
    libraries = _shared_libraries([local for _, local in files])
    executable = Path(sys.executable).resolve()
    changes = [
        f"ENV PATH={executable.parent}:/bin",
        f"ENV PYTHONPATH={SOURCE}:{SITE}",
        "ENV PYTHONUNBUFFERED=1",
        "WORKDIR /work",
        f'ENTRYPOINT ["{executable}", "-m", "worker.main"]',
    ]
    client.api.import_image_from_data(
        _rootfs(files, libraries), repository=REPOSITORY, tag=tag, changes=changes
    )
    _prune(client, keep=image)
    return image


def _prune(client: docker.DockerClient, keep: str) -> None:
    """Remove worker images of older installations, a day old and used by no container."""
    day_ago = time.time() - 86_400
    for old in client.images.list(name=REPOSITORY):
        created = old.attrs.get("Created", "")
        if keep in old.tags or not isinstance(created, str) or old.id is None:
            continue
        try:
            made = dt.datetime.fromisoformat(created[:19] + "+00:00").timestamp()
        except ValueError:
            continue
        if made < day_ago:
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(old.id)  # refused while a container uses it
