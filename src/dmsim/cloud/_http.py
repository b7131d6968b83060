"""The HTTP API and web page of a running cloud (aiohttp).

Read endpoints (GET, open to anyone who can reach the port — bind it to loopback):

- ``/`` the web page; ``/api/items`` stored items; ``/api/items/{id}`` one item;
  ``/api/items/{id}/content`` its bytes (JPEG, PNG, GIF and WebP images inline, anything
  else as an ``application/octet-stream`` attachment); ``/api/latest`` latest capture per
  component; ``/api/readings`` tabular readings as flat rows; ``/api/timeline?after=N``
  upload/fault timeline; ``/api/faults``; ``/api/statistics``;
  ``/api/export?format=jsonl|csv``.
- Filters on items, latest, readings and export: ``part``, ``component_type``,
  ``component``, ``method``, ``data_type`` (tabular|binary|file), ``tag`` (repeatable; all
  must match), ``since``/``until`` (seconds since the epoch as a plain number, or ISO-8601
  with a dashed date; 1970 to 2262), ``limit``, ``offset`` (whole numbers).

Write endpoints (need ``Authorization: Bearer <api key>`` when the cloud has an API key; a
POST must be ``Content-Type: application/json``, and a write carrying a foreign ``Origin`` is
refused, so that other web sites cannot make a browser use them):
``POST /api/sql`` (``{"sql": ..., "params": [...]}``, read-only statements only),
``POST /api/faults`` (an RPC fault as JSON, see :class:`~dmsim.cloud.RpcFault`; ``start`` and
``end`` are seconds since the server started), ``DELETE /api/faults/{id}``,
``POST /api/faults/clear``.

Errors are ``{"error": CODE, "message": ...}`` with 400 (bad input), 401, 403 (cross-site),
404, 415 (not JSON) or 500.
"""

from __future__ import annotations

import hmac
import io
import json
from dataclasses import asdict
from importlib import resources
from typing import Any

from aiohttp import web

from dmsim._cross_site import refuse_cross_site_writes
from dmsim.errors import CloudError, ScenarioError

from ._faults import RpcFault
from ._host import CloudHost
from ._queries import ExportFormat
from ._records import CaptureFilter, parse_count, parse_time

__all__ = ["build_http_app"]

_HOST_KEY = web.AppKey("host", CloudHost)
_API_KEY = web.AppKey("api_key", str)
_STATUS = {"INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "NOT_FOUND": 404}
_REFUSAL_CODES = {403: "PERMISSION_DENIED", 415: "UNSUPPORTED_MEDIA_TYPE"}
#: Content types served inline by ``/api/items/{id}/content``: the images the page shows.
_INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except CloudError as error:
        message = str(error).removeprefix(f"{error.code}: ")
        return _error(_STATUS.get(error.code, 500), error.code, message)
    except ScenarioError as error:
        return _error(400, "INVALID_ARGUMENT", str(error))
    return response


def _filter(request: web.Request) -> CaptureFilter:
    q = request.query
    since, until, limit, offset = (q.get(name) for name in ("since", "until", "limit", "offset"))
    data_type: Any = q.get("data_type")
    return CaptureFilter(
        part_id=q.get("part"),
        component_type=q.get("component_type"),
        component_name=q.get("component"),
        method_name=q.get("method"),
        data_type=data_type,
        tags=tuple(q.getall("tag", [])),
        since=None if since is None else parse_time(since, "since"),
        until=None if until is None else parse_time(until, "until"),
        limit=None if limit is None else parse_count(limit, "limit"),
        offset=0 if offset is None else parse_count(offset, "offset"),
    )


def _check_write(request: web.Request) -> None:
    expected = request.app[_API_KEY]
    if not expected:
        return
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(offered.encode(), expected.encode()):
        raise CloudError("UNAUTHENTICATED", "missing or wrong API key")


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CloudError("INVALID_ARGUMENT", f"request body: not JSON ({error})") from None


async def index(_request: web.Request) -> web.Response:
    page = resources.files("dmsim.cloud").joinpath("static/index.html").read_text("utf-8")
    return web.Response(text=page, content_type="text/html")


async def items(request: web.Request) -> web.Response:
    host, query = request.app[_HOST_KEY], _filter(request)
    found = await host.call(host.core.query, query)
    total = await host.call(host.core.count, query)
    return web.json_response({"items": [i.to_json() for i in found], "total": total})


async def item(request: web.Request) -> web.Response:
    host = request.app[_HOST_KEY]
    found = await host.call(host.core.get_item, request.match_info["item_id"])
    return web.json_response(found.to_json())


async def content(request: web.Request) -> web.Response:
    host = request.app[_HOST_KEY]
    item_id = request.match_info["item_id"]
    found = await host.call(host.core.get_item, item_id)
    data = await host.call(host.core.read_blob, item_id)
    # The uploader chose the MIME type, and these bytes are served on the page's origin: only
    # raster images go out as what they are; everything else is a download, never a document.
    headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
    stored = (found.mime_type or "").partition(";")[0].strip().lower()
    if stored in _INLINE_TYPES:
        return web.Response(body=data, content_type=stored, headers=headers)
    headers["Content-Disposition"] = "attachment"
    return web.Response(body=data, content_type="application/octet-stream", headers=headers)


async def latest(request: web.Request) -> web.Response:
    host = request.app[_HOST_KEY]
    found = await host.call(host.core.latest, _filter(request))
    return web.json_response({"items": [i.to_json() for i in found]})


async def readings(request: web.Request) -> web.Response:
    host = request.app[_HOST_KEY]
    rows = await host.call(host.core.tabular_rows, _filter(request))
    return web.json_response({"rows": rows})


async def sql(request: web.Request) -> web.Response:
    _check_write(request)
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
        raise CloudError("INVALID_ARGUMENT", 'request body: expected {"sql": "...", "params": []}')
    params = body.get("params", [])
    if not isinstance(params, list):
        raise CloudError("INVALID_ARGUMENT", "params: must be a list")
    host = request.app[_HOST_KEY]
    result = await host.call(host.core.sql, body["sql"], params)
    return web.json_response(
        {"columns": result.columns, "rows": result.rows, "truncated": result.truncated}
    )


async def export(request: web.Request) -> web.Response:
    host, query = request.app[_HOST_KEY], _filter(request)
    fmt: ExportFormat
    match request.query.get("format", "jsonl"):
        case "jsonl":
            fmt = "jsonl"
        case "csv":
            fmt = "csv"
        case other:
            raise CloudError("INVALID_ARGUMENT", f"format: {other!r} is not jsonl or csv")
    out = io.StringIO()
    await host.call(lambda: host.core.export(out, format=fmt, query=query))
    kind = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return web.Response(text=out.getvalue(), content_type=kind)


async def timeline(request: web.Request) -> web.Response:
    host = request.app[_HOST_KEY]
    entries = host.plan.timeline(after_call=parse_count(request.query.get("after", "0"), "after"))
    return web.json_response({"now": host.now(), "entries": [e.to_json() for e in entries]})


async def faults(request: web.Request) -> web.Response:
    statuses = request.app[_HOST_KEY].plan.faults()
    return web.json_response(
        {
            "faults": [
                {**s.fault.to_json(), "remaining": s.remaining, "fired": s.fired} for s in statuses
            ]
        }
    )


async def add_fault(request: web.Request) -> web.Response:
    _check_write(request)
    fault = RpcFault.from_json(await _json_body(request))
    request.app[_HOST_KEY].plan.add(fault)
    return web.json_response({"fault": fault.to_json()}, status=201)


async def remove_fault(request: web.Request) -> web.Response:
    _check_write(request)
    fault_id = request.match_info["fault_id"]
    if not request.app[_HOST_KEY].plan.remove(fault_id):
        raise CloudError("NOT_FOUND", f"fault {fault_id!r}: not in the plan")
    return web.json_response({"removed": fault_id})


async def clear_faults(request: web.Request) -> web.Response:
    _check_write(request)
    return web.json_response({"removed": request.app[_HOST_KEY].plan.clear()})


async def statistics(request: web.Request) -> web.Response:
    host = request.app[_HOST_KEY]
    cloud = await host.call(host.core.statistics)
    return web.json_response(
        {
            "cloud": asdict(cloud),
            "faults": asdict(host.plan.statistics()),
            "commits": asdict(host.statistics()),
        }
    )


def _refusal(status: int, message: str) -> web.Response:
    return _error(status, _REFUSAL_CODES[status], message)


def build_http_app(host: CloudHost, *, api_key: str | None = None) -> web.Application:
    app = web.Application(
        middlewares=[_errors, refuse_cross_site_writes(_refusal)], client_max_size=1024 * 1024
    )
    app[_HOST_KEY] = host
    app[_API_KEY] = api_key or ""
    app.router.add_get("/", index)
    app.router.add_get("/api/items", items)
    app.router.add_get("/api/items/{item_id}", item)
    app.router.add_get("/api/items/{item_id}/content", content)
    app.router.add_get("/api/latest", latest)
    app.router.add_get("/api/readings", readings)
    app.router.add_post("/api/sql", sql)
    app.router.add_get("/api/export", export)
    app.router.add_get("/api/timeline", timeline)
    app.router.add_get("/api/faults", faults)
    app.router.add_post("/api/faults", add_fault)
    app.router.add_post("/api/faults/clear", clear_faults)
    app.router.add_delete("/api/faults/{fault_id}", remove_fault)
    app.router.add_get("/api/statistics", statistics)
    return app
