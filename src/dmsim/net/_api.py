"""HTTP control of fault proxies, in Toxiproxy's JSON shape (aiohttp).

Routes (Toxiproxy's, plus two read-only dmsim extensions):

- ``GET /version``
- ``GET /proxies``; ``GET /proxies/{proxy}``; ``POST /proxies/{proxy}`` (``{"enabled": bool}``)
- ``GET /proxies/{proxy}/toxics``; ``POST /proxies/{proxy}/toxics`` (create)
- ``GET|POST|DELETE /proxies/{proxy}/toxics/{toxic}`` (read, update, remove)
- ``POST /reset``: enable every proxy and remove every toxic
- ``GET /proxies/{proxy}/statistics``, ``GET /proxies/{proxy}/journal`` (dmsim)

Errors are ``{"error": message, "status": code}``: 400 bad input, 404 unknown proxy or toxic,
409 a toxic name already in use, 403 a cross-site request, 415 a POST that is not
``Content-Type: application/json`` (Toxiproxy's own client sends it on every request). The last
two keep other web sites from driving the proxy through a browser.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from dmsim import __version__
from dmsim._cross_site import refuse_cross_site_writes
from dmsim.errors import ConfigError, Problem

from ._proxy import FaultProxy
from ._toxics import ToxicConflictError, ToxicNotFoundError

__all__ = ["ProxyApi"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ProxyApi:
    """The control API for a set of proxies, by name."""

    def __init__(self, proxies: Sequence[FaultProxy]) -> None:
        self._proxies = {p.name: p for p in proxies}
        if len(self._proxies) != len(proxies):
            raise ConfigError(Problem("proxies", "proxy names must be unique"))
        self._runner: web.AppRunner | None = None
        self._address: tuple[str, int] | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_errors, refuse_cross_site_writes(_error_response)])
        app.router.add_get("/version", self._version)
        app.router.add_get("/proxies", self._list)
        app.router.add_post("/reset", self._reset)
        app.router.add_get("/proxies/{proxy}", self._get_proxy)
        app.router.add_post("/proxies/{proxy}", self._update_proxy)
        app.router.add_get("/proxies/{proxy}/toxics", self._list_toxics)
        app.router.add_post("/proxies/{proxy}/toxics", self._add_toxic)
        app.router.add_get("/proxies/{proxy}/toxics/{toxic}", self._get_toxic)
        app.router.add_post("/proxies/{proxy}/toxics/{toxic}", self._update_toxic)
        app.router.add_delete("/proxies/{proxy}/toxics/{toxic}", self._remove_toxic)
        app.router.add_get("/proxies/{proxy}/statistics", self._statistics)
        app.router.add_get("/proxies/{proxy}/journal", self._journal)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 8474) -> tuple[str, int]:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self._address = (str(bound[0]), int(bound[1]))
        return self._address

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def address(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError("the API is not started")
        return self._address

    # handlers
    async def _version(self, _request: web.Request) -> web.Response:
        return web.json_response({"version": f"dmsim-{__version__}"})

    async def _list(self, _request: web.Request) -> web.Response:
        return web.json_response({name: p.to_json() for name, p in self._proxies.items()})

    async def _reset(self, _request: web.Request) -> web.Response:
        for proxy in self._proxies.values():
            await proxy.reset()
        return web.Response(status=204)

    async def _get_proxy(self, request: web.Request) -> web.Response:
        return web.json_response(self._proxy(request).to_json())

    async def _update_proxy(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        body = await _body(request)
        current = proxy.to_json()
        problems = [
            Problem(key, "cannot be changed on a running dmsim proxy")
            for key in ("name", "listen", "upstream")
            if key in body and body[key] != current[key]
        ] + [Problem(key, "unknown key") for key in body if key not in current]
        enabled = body.get("enabled", proxy.enabled)
        if not isinstance(enabled, bool):
            problems.append(Problem("enabled", f"must be true or false, got {enabled!r}"))
        if problems:
            raise ConfigError(problems)
        await proxy.set_enabled(enabled)
        return web.json_response(proxy.to_json())

    async def _list_toxics(self, request: web.Request) -> web.Response:
        return web.json_response([t.to_json() for t in self._proxy(request).toxics()])

    async def _add_toxic(self, request: web.Request) -> web.Response:
        toxic = await self._proxy(request).add_toxic(await _body(request))
        return web.json_response(toxic.to_json())

    async def _get_toxic(self, request: web.Request) -> web.Response:
        toxic = self._proxy(request).get_toxic(request.match_info["toxic"])
        return web.json_response(toxic.to_json())

    async def _update_toxic(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        toxic = await proxy.update_toxic(request.match_info["toxic"], await _body(request))
        return web.json_response(toxic.to_json())

    async def _remove_toxic(self, request: web.Request) -> web.Response:
        await self._proxy(request).remove_toxic(request.match_info["toxic"])
        return web.Response(status=204)

    async def _statistics(self, request: web.Request) -> web.Response:
        stats = self._proxy(request).statistics()
        return web.json_response(dataclasses.asdict(stats))

    async def _journal(self, request: web.Request) -> web.Response:
        events = self._proxy(request).journal()
        return web.json_response([dataclasses.asdict(e) for e in events])

    def _proxy(self, request: web.Request) -> FaultProxy:
        name = request.match_info["proxy"]
        try:
            return self._proxies[name]
        except KeyError:
            raise ToxicNotFoundError(Problem("proxy", f"no proxy named {name!r}")) from None


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.text() or "{}")
    except json.JSONDecodeError as error:
        raise ConfigError(
            Problem("body", f"invalid JSON: {error.msg} at line {error.lineno}")
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(Problem("body", "expected a JSON object"))
    return data


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ToxicNotFoundError as error:
        return _error(404, error)
    except ToxicConflictError as error:
        return _error(409, error)
    except ConfigError as error:
        return _error(400, error)


def _error(status: int, error: ConfigError) -> web.Response:
    return _error_response(status, "; ".join(str(p) for p in error.problems))


def _error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)
