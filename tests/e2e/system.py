"""`infrax up` as its own process, for the end-to-end tests of the CLI against the whole system:
the commands then run in the same directory with no TASKCLUSTER_* or INFRAX_* variable set."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.conftest import INFRAX, clean_env

LAST_LINE = "Ctrl-C stops everything."


def infrax_in(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """An `infrax` command run in `cwd` with no TASKCLUSTER_* or INFRAX_* variable set."""
    return subprocess.run(
        [*INFRAX, *args], capture_output=True, text=True, timeout=timeout, env=clean_env(), cwd=cwd
    )


@dataclass
class Up:
    process: subprocess.Popen[str]
    cwd: Path
    lines: list[str] = field(default_factory=list)

    @property
    def root_url(self) -> str:
        return self.value("rootUrl")

    @property
    def data_dir(self) -> Path:
        return self.cwd / "infrax-data"

    def value(self, key: str) -> str:
        """The value of the `key: value` line `infrax up` printed."""
        for line in self.lines:
            if line.startswith(f"{key}: "):
                return line.split(": ", 1)[1].split(" ")[0]
        raise KeyError(key)

    def infrax(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """An `infrax` command run from the directory of `infrax up`, nothing configured."""
        return infrax_in(self.cwd, *args, timeout=timeout)

    def stop(self, sig: signal.Signals = signal.SIGINT) -> tuple[int, str]:
        """Signal it; its exit code and what it wrote on stderr."""
        self.process.send_signal(sig)
        _, err = self.process.communicate(timeout=90)
        return self.process.returncode, err


@contextmanager
def running_up(cwd: Path, *flags: str) -> Iterator[Up]:
    """`infrax up --port 0` started in `cwd`, once it has printed all it prints at start."""
    cwd.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [*INFRAX, "up", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=cwd,
    )
    up = Up(process, cwd)
    try:
        assert process.stdout is not None
        while (line := process.stdout.readline()) and line.strip() != LAST_LINE:
            up.lines.append(line.rstrip("\n"))
        assert line, f"infrax up stopped: {up.lines} {process.stderr and process.stderr.read()}"
        yield up
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=90)
