"""The file `infrax up` writes so that `infrax` commands find the local system unconfigured.

`<data dir>/local.json` (mode 0600) holds the queue's rootUrl, the root client's credentials,
the task queue the local worker serves and the addresses of the scheduler and provisioner.
A client command without `--root-url` or `TASKCLUSTER_ROOT_URL` looks for it in `--data-dir`,
else `INFRAX_DATA_DIR`, else `./infrax-data`. `infrax up` removes it when it stops, so a stale
file never points at a system that is gone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import hawk
from ..client import ConfigurationError

__all__ = [
    "DEFAULT_DATA_DIR",
    "LOCAL_FILE",
    "LocalSystem",
    "data_dir_of",
    "find_local",
    "remove_local",
    "write_local",
]

LOCAL_FILE = "local.json"
DEFAULT_DATA_DIR = Path("infrax-data")


@dataclass(frozen=True)
class LocalSystem:
    """What `infrax up` runs, as its client commands need to know it."""

    root_url: str
    credentials: hawk.Credentials
    task_queue_id: str
    engine: str  # docker or process: the local worker's engine
    hooks_root_url: str | None = None
    worker_manager_root_url: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "rootUrl": self.root_url,
            "clientId": self.credentials.client_id,
            "accessToken": self.credentials.access_token,
            "taskQueueId": self.task_queue_id,
            "engine": self.engine,
            "hooksRootUrl": self.hooks_root_url,
            "workerManagerRootUrl": self.worker_manager_root_url,
        }


def data_dir_of(given: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """The data directory: the one given, else INFRAX_DATA_DIR, else ./infrax-data."""
    env = os.environ if env is None else env
    if given is not None:
        return given
    return Path(env["INFRAX_DATA_DIR"]) if env.get("INFRAX_DATA_DIR") else DEFAULT_DATA_DIR


def write_local(data_dir: Path, system: LocalSystem) -> Path:
    """Write the file atomically, readable by its owner only; its path."""
    path = data_dir / LOCAL_FILE
    partial = path.with_name(f".{LOCAL_FILE}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(system.to_json(), out, indent=2)
        out.write("\n")
    os.chmod(partial, 0o600)  # an older partial file may have had another mode
    partial.replace(path)
    return path


def remove_local(data_dir: Path) -> None:
    (data_dir / LOCAL_FILE).unlink(missing_ok=True)


def _optional_str(saved: Mapping[str, object], key: str) -> str | None:
    value = saved.get(key)
    return value if isinstance(value, str) and value else None


def find_local(data_dir: Path | None, env: Mapping[str, str] | None = None) -> LocalSystem | None:
    """The local system `infrax up` recorded, or None when it has written no file."""
    path = data_dir_of(data_dir, env) / LOCAL_FILE
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read {path}: {error}") from None
    try:
        return LocalSystem(
            root_url=str(saved["rootUrl"]),
            credentials=hawk.Credentials(str(saved["clientId"]), str(saved["accessToken"])),
            task_queue_id=str(saved["taskQueueId"]),
            engine=str(saved.get("engine") or "docker"),
            hooks_root_url=_optional_str(saved, "hooksRootUrl"),
            worker_manager_root_url=_optional_str(saved, "workerManagerRootUrl"),
        )
    except (KeyError, TypeError) as error:
        raise ConfigurationError(f"{path} lacks {error}: restart `infrax up`") from None
