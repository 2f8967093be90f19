"""The web pages the queue serves (protocol.md §18.2): the live log viewer at `/livelog/`,
the shell at `/shell/`, and their static files (xterm.js included) at `/static/`. They are
plain files from clients/web; everything they show comes from the API and the relay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from clients.web import PAGES, STATIC

__all__ = ["add_page_routes"]

_NO_STORE = {"Cache-Control": "no-cache"}


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    path = PAGES / name

    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path, headers={**_NO_STORE, "Content-Type": "text/html"})

    return serve


async def _slash(request: web.Request) -> web.StreamResponse:
    target = request.rel_url.with_path(request.path + "/")
    raise web.HTTPPermanentRedirect(str(target))


def add_page_routes(app: web.Application) -> None:
    for route, name in (("/livelog", "livelog.html"), ("/shell", "shell.html")):
        app.router.add_get(route + "/", _page(name))
        app.router.add_get(route, _slash)
    app.router.add_static("/static/", STATIC, append_version=False)
