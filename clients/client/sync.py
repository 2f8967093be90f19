"""A thin synchronous wrapper: any async client's methods, run on a private event loop.

For scripts and the REPL; async code uses the clients directly. ``run`` keeps full typing;
attribute access (``sync.status(task_id)``) is the shorthand: a coroutine method returns its
result, an ``iter_*`` method returns a plain iterator.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from .service import ServiceClient

__all__ = ["SyncClient"]

C = TypeVar("C", bound=ServiceClient)
R = TypeVar("R")
T = TypeVar("T")


class SyncClient(Generic[C]):
    """Blocking calls of ``client``; use from one thread, outside any running event loop.

    ::

        with SyncClient(Queue.from_env()) as queue:
            print(queue.status(task_id).status.state)
            for item in queue.iter_list_task_group(group_id):
                ...
    """

    def __init__(self, client: C) -> None:
        self.client = client
        self._runner = asyncio.Runner()

    def run(self, call: Callable[[C], Awaitable[R]]) -> R:
        """The result of ``call(client)``, e.g. ``sync.run(lambda q: q.status(task_id))``."""
        return self._runner.run(_awaited(call(self.client)))

    def iterate(self, items: Callable[[C], AsyncIterator[T]]) -> Iterator[T]:
        """The items of an async iterator, e.g. ``sync.iterate(lambda q: q.iter_tasks(ids))``."""
        source = items(self.client)
        while True:
            try:
                yield self._runner.run(_awaited(anext(source)))
            except StopAsyncIteration:
                return

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method):
            return method

        def blocking(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if inspect.isawaitable(result):
                return self._runner.run(_awaited(result))
            if isinstance(result, AsyncIterator):
                return self.iterate(lambda _: result)
            return result

        return blocking

    def close(self) -> None:
        """Close the client's session and the private loop."""
        try:
            self._runner.run(self.client.close())
        finally:
            self._runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _awaited(awaitable: Awaitable[R]) -> R:
    return await awaitable
