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
# The pages made of page.html and a script; the script reads an id from the address (a
# task-queue id holds a slash, so its route takes the rest of the path).
_SCRIPT_PAGES = (
    ("/", "index"),
    ("/tasks/{taskId}", "task"),
    ("/groups/{taskGroupId}", "group"),
    ("/queues/{taskQueueId:.+}", "queue"),
)
_MARKS = (b"<!--base-->", b"<!--script-->")


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


def _script_page(script: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    html = (PAGES / "page.html").read_bytes()
    if not all(mark in html for mark in _MARKS):
        raise ValueError(f"page.html lacks one of the marks {_MARKS}")
    html = html.replace(_MARKS[1], f'<script src="static/{script}.js"></script>'.encode(), 1)

    async def serve(request: web.Request) -> web.StreamResponse:
        base = f'<base href="{base_href(request.raw_path)}">'.encode()
        body = html.replace(_MARKS[0], base, 1)
        return web.Response(body=body, headers=_NO_STORE, content_type="text/html")

    return serve


async def _slash(request: web.Request) -> web.StreamResponse:
    target = request.rel_url.with_path(request.path + "/")
    raise web.HTTPPermanentRedirect(str(target))


def add_page_routes(app: web.Application) -> None:
    for route, script in _SCRIPT_PAGES:
        app.router.add_get(route, _script_page(script))
    for route, name in (("/livelog", "livelog.html"), ("/shell", "shell.html")):
        app.router.add_get(route + "/", _page(name))
        app.router.add_get(route, _slash)
    app.router.add_static("/static/", STATIC, append_version=False)
