"""Data directories filled once per run and copied for each round that starts from them."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path

__all__ = ["Templates"]

Builder = Callable[[Path], Awaitable[None]]


class Templates:
    """`prepare(key, build)` for `running_queue`: the first round with a key builds the data
    directory with `build`, later rounds start from a copy of it."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="infrax-bench-templates-")
        self._built: dict[Hashable, Path] = {}

    def close(self) -> None:
        self._dir.cleanup()

    def prepare(self, key: Hashable, build: Builder) -> Builder:
        async def copy_into(data_dir: Path) -> None:
            template = self._built.get(key)
            if template is None:
                template = Path(self._dir.name) / str(len(self._built))
                template.mkdir()
                await build(template)
                self._built[key] = template
            await asyncio.to_thread(shutil.copytree, template, data_dir, dirs_exist_ok=True)

        return copy_into
