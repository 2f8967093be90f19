"""`infrax worker` refusing to start says why in one line and exits non-zero."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.e2e.system import infrax_in


def test_a_taken_live_log_port_is_one_line_naming_the_address_and_the_setting(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    root_url, _ = served
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = infrax_in(
            tmp_path,
            "worker",
            *("--root-url", root_url, "--task-queue-id", "infrax-test/process"),
            *("--engine", "process", "--work-dir", str(tmp_path / "work")),
            *("--live-listen", f"127.0.0.1:{port}"),
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1:] == [
        f"infrax worker: cannot listen on 127.0.0.1:{port}: address already in use;"
        " give --live-listen (INFRAX_WORKER_LIVE_LISTEN) another address"
    ], done.stderr
    assert "Traceback" not in done.stderr
