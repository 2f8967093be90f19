"""The web pages the queue serves (protocol.md §18.2): the home page at `/`, the task, task-group
and task-queue pages, the live log viewer at `/livelog/`, the shell at `/shell/`, and their
static files (xterm.js included) at `/static/`. They are plain files from clients/web;
everything they show comes from the API, the event stream and the relay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from clients.web import PAGES, STATIC

__all__ = ["add_page_routes"]

_NO_STORE = {"Cache-Control": "no-cache"}
# The pages' own routes; an id in the path goes to the page's script, which reads it from the
# address. A task-queue id holds a slash, so its route takes the rest of the path.
_ID_PAGES = (
    ("/tasks/{taskId}", "task.html"),
    ("/groups/{taskGroupId}", "group.html"),
    ("/queues/{taskQueueId:.+}", "queue.html"),
)
BASE_MARK = b"<!--base-->"


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    path = PAGES / name

    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={**_NO_STORE, "Content-Type": "text/html"})

    return serve


def base_href(raw_path: str) -> str:
    """The relative URL of the rootUrl from a page's path, so that the pages work behind a
    proxy that serves the queue under a path prefix: `/tasks/x` gives `../`."""
    depth = raw_path.split("?", 1)[0].count("/") - 1
    return "../" * depth if depth > 0 else "./"


def _id_page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    html = (PAGES / name).read_bytes()
    if BASE_MARK not in html:
        raise ValueError(f"{name} has no {BASE_MARK.decode()} mark for its <base>")

    async def serve(request: web.Request) -> web.StreamResponse:
        base = f'<base href="{base_href(request.raw_path)}">'.encode()
        body = html.replace(BASE_MARK, base, 1)
        return web.Response(body=body, headers=_NO_STORE, content_type="text/html")

    return serve


async def _slash(request: web.Request) -> web.StreamResponse:
    target = request.rel_url.with_path(request.path + "/")
    raise web.HTTPPermanentRedirect(str(target))


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/", _id_page("index.html"))
    for route, name in _ID_PAGES:
        app.router.add_get(route, _id_page(name))
    for route, name in (("/livelog", "livelog.html"), ("/shell", "shell.html")):
        app.router.add_get(route + "/", _page(name))
        app.router.add_get(route, _slash)
    app.router.add_static("/static/", STATIC, append_version=False)
