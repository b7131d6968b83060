"""Cross-site request forgery guard for dmsim's HTTP APIs (the cloud's and the proxy's).

Both listen without authentication by default, so any web page the user visits could make the
browser send them requests. A browser sends a cross-site request without first asking the
server (a CORS preflight, which these servers never approve) only if it is a GET, HEAD or POST
whose Content-Type is a form's or ``text/plain``. So:

- a POST must say ``Content-Type: application/json`` (415 otherwise);
- a request that changes anything (any method but GET, HEAD, OPTIONS) and carries an ``Origin``
  header other than the server's own is refused (403); clients that are not browsers send no
  ``Origin``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["ErrorResponse", "refuse_cross_site_writes"]

#: Builds the API's own error response from an HTTP status and a message.
ErrorResponse = Callable[[int, str], web.Response]
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_cross_site_writes(error: ErrorResponse) -> Middleware:
    """An aiohttp middleware applying the rules above, answering refusals with ``error``."""

    @web.middleware
    async def guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.method not in _READ_ONLY_METHODS:
            origin = request.headers.get("Origin")
            own = f"{request.scheme}://{request.host}"
            if origin is not None and origin.lower() != own.lower():
                return error(403, f"cross-site request refused: Origin {origin!r} is not {own}")
            if request.method == "POST" and request.content_type != "application/json":
                return error(415, "a POST needs Content-Type: application/json")
        return await handler(request)

    return guard
