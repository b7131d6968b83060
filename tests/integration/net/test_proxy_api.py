"""The HTTP control API in Toxiproxy's shape, driving a live proxy."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from tests.integration.net.proxy_env import LOOPBACK, client, echo_behind_proxy, round_trip, run

from dmsim import __version__
from dmsim.net import FaultProxy, ProxyApi


@asynccontextmanager
async def api_for(proxy: FaultProxy) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    api = ProxyApi([proxy])
    host, port = await api.start(LOOPBACK, 0)
    try:
        async with aiohttp.ClientSession() as session:
            yield session, f"http://{host}:{port}"
    finally:
        await api.stop()


async def call(
    session: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}  # as Toxiproxy's own client sends
    async with session.request(method, url, json=body, headers=headers) as response:
        text = await response.text()
        return response.status, (await response.json() if text else None)


def test_toxiproxy_routes() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy, api_for(proxy) as (http, base):
            status, version = await call(http, "GET", f"{base}/version")
            assert (status, version) == (200, {"version": f"dmsim-{__version__}"})

            status, proxies = await call(http, "GET", f"{base}/proxies")
            host, port = proxy.listen_address
            assert proxies == {
                "dmsim": {
                    "name": "dmsim",
                    "listen": f"{host}:{port}",
                    "upstream": f"{LOOPBACK}:{proxy.upstream[1]}",
                    "enabled": True,
                    "toxics": [],
                }
            }

            toxic = {"type": "latency", "attributes": {"latency": 250}}
            status, created = await call(http, "POST", f"{base}/proxies/dmsim/toxics", toxic)
            assert status == 200
            assert created["name"] == "latency_downstream"
            async with client(proxy) as (reader, writer):
                assert (await round_trip(reader, writer, b"x"))[1] >= 0.25

            status, error = await call(http, "POST", f"{base}/proxies/dmsim/toxics", toxic)
            assert status == 409
            assert "already exists" in error["error"]

            url = f"{base}/proxies/dmsim/toxics/latency_downstream"
            status, updated = await call(http, "POST", url, {"attributes": {"latency": 10}})
            assert (status, updated["attributes"]["latency"]) == (200, 10)
            status, error = await call(http, "POST", url, {"attributes": [1]})
            assert (status, error["error"]) == (400, "toxic.attributes: expected an object")
            assert (await call(http, "GET", url))[1] == updated
            assert (await call(http, "GET", f"{base}/proxies/dmsim/toxics"))[1] == [updated]

            assert (await call(http, "DELETE", url))[0] == 204
            status, error = await call(http, "DELETE", url)
            assert status == 404
            assert error == {
                "error": "toxic: no toxic 'latency_downstream' on proxy 'dmsim'",
                "status": 404,
            }

    run(main())


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "fragment"),
    [
        ("POST", "/proxies/dmsim/toxics", {"type": "bandwidth"}, 400, "attributes.rate: required"),
        ("POST", "/proxies/dmsim/toxics", [1], 400, "body: expected a JSON object"),
        ("POST", "/proxies/nope/toxics", {"type": "latency"}, 404, "no proxy named 'nope'"),
        ("GET", "/proxies/nope", None, 404, "no proxy named 'nope'"),
        ("POST", "/proxies/dmsim", {"enabled": "no"}, 400, "enabled: must be true or false"),
        ("POST", "/proxies/dmsim", {"listen": "1.2.3.4:5"}, 400, "listen: cannot be changed"),
    ],
)
def test_bad_requests_get_precise_errors(
    method: str, path: str, body: Any, status: int, fragment: str
) -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy, api_for(proxy) as (http, base):
            got_status, error = await call(http, method, base + path, body)
            assert got_status == status
            assert fragment in error["error"]
            assert proxy.toxics() == []

    run(main())


def test_invalid_json_body() -> None:
    async def main() -> None:
        async with (
            echo_behind_proxy() as proxy,
            api_for(proxy) as (http, base),
            http.post(
                f"{base}/proxies/dmsim/toxics",
                data=b"{oops",
                headers={"Content-Type": "application/json"},
            ) as response,
        ):
            assert response.status == 400
            assert "invalid JSON" in (await response.json())["error"]

    run(main())


def test_disable_reset_statistics_and_journal() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy, api_for(proxy) as (http, base):
            status, body = await call(http, "POST", f"{base}/proxies/dmsim", {"enabled": False})
            assert (status, body["enabled"]) == (200, False)
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(*proxy.listen_address)
            await call(
                http,
                "POST",
                f"{base}/proxies/dmsim/toxics",
                {"type": "slicer", "attributes": {"average_size": 4}},
            )
            assert (await call(http, "POST", f"{base}/reset"))[0] == 204
            assert proxy.enabled
            assert proxy.toxics() == []
            start = time.monotonic()
            async with client(proxy) as (reader, writer):
                assert (await round_trip(reader, writer, b"after reset"))[0] == b"after reset"
            assert time.monotonic() - start < 1.0
            _, stats = await call(http, "GET", f"{base}/proxies/dmsim/statistics")
            assert stats["connections"] == 1
            assert stats["bytes_upstream"] == len(b"after reset")
            _, journal = await call(http, "GET", f"{base}/proxies/dmsim/journal")
            kinds = [e["kind"] for e in journal]
            assert kinds[:3] == ["listening", "disabled", "not-listening"]
            assert "toxic.removed" in kinds

    run(main())


def test_cross_site_requests_cannot_change_anything() -> None:
    """A page on another site can make the browser POST here without a CORS preflight only
    as a form or text/plain: writes must be JSON, and a foreign Origin is refused."""
    latency = json.dumps({"type": "latency", "attributes": {"latency": 5000}})
    plain = {"Content-Type": "text/plain"}
    as_json = {"Content-Type": "application/json"}
    evil = {"Origin": "http://evil.example"}

    async def main() -> None:
        async with echo_behind_proxy() as proxy, api_for(proxy) as (http, base):
            status, _ = await call(http, "POST", f"{base}/proxies/dmsim/toxics", {"type": "down"})
            assert status == 200
            refused = [
                ("POST", "/proxies/dmsim/toxics", latency, plain, 415),
                ("POST", "/proxies/dmsim/toxics", latency, {**plain, **evil}, 403),
                ("POST", "/proxies/dmsim/toxics", latency, {**as_json, **evil}, 403),
                ("POST", "/proxies/dmsim", json.dumps({"enabled": False}), plain, 415),
                ("POST", "/reset", None, {}, 415),
                ("POST", "/reset", None, {**as_json, **evil}, 403),
                ("DELETE", "/proxies/dmsim/toxics/down_downstream", None, evil, 403),
            ]
            for method, path, body, headers, status in refused:
                async with http.request(
                    method, base + path, data=body, headers=headers
                ) as response:
                    assert response.status == status, (method, path, headers)
                    assert (await response.json())["status"] == status
            assert [t.name for t in proxy.toxics()] == ["down_downstream"]
            assert proxy.enabled

    run(main())
