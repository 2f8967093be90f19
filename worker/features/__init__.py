"""Worker features: small plugins a run enters in order on an AsyncExitStack (STYLE.md 7).

Each has `is_requested(run)` and `enter(run)`, an async context manager. Their ends run in
reverse order, also when a later feature failed: resource figures and artifacts are taken
while the finished container still exists, then shells may keep it a while (interactive),
then the container is removed, then the caches it used are released (and purged when the exit
code asks for it). The live log comes first, so viewers see the image being pulled; it turns
into a link to the uploaded log in the run's epilogue, after every feature ended.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from .artifacts import Artifacts
from .caches import Caches
from .dockersave import DockerSave
from .execute import Execute
from .interactive import Interactive
from .livelog import LiveLog
from .maxruntime import MaxRunTime
from .resources import ResourceMonitor

if TYPE_CHECKING:
    from ..run import Run

__all__ = ["FEATURES", "Feature"]


class Feature(Protocol):
    name: str

    def is_requested(self, run: Run) -> bool: ...

    def enter(self, run: Run) -> AbstractAsyncContextManager[None]: ...


FEATURES: tuple[Feature, ...] = (
    LiveLog(),
    Caches(),
    Execute(),
    Interactive(),
    Artifacts(),
    DockerSave(),
    ResourceMonitor(),
    MaxRunTime(),
)
