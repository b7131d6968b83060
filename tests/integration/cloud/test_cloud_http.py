"""The HTTP API (filters, images, latest, SQL, timeline, fault control) and the web page,
rendered by headless Chromium from data uploaded over real gRPC."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image
from tests.integration.cloud.cloud_env import chunks_of, running_cloud, transport

from dmsim.cloud import CloudCore, CloudServer, GrpcTransport
from dmsim.cloud.samples import Box, binary_request, file_metadata, tabular_request
from dmsim.errors import CloudError

pytestmark = pytest.mark.timeout(120)


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="PNG")
    return out.getvalue()


async def _fill(server: CloudServer) -> None:
    async with transport(server, timeout=5) as client:
        await client.data_capture_upload(
            tabular_request(
                [{"temp": 21.5}, {"temp": 22.0}], component_name="thermo", tags=["lab"]
            ),
            key="t",
        )
        await client.data_capture_upload(
            binary_request(
                [_png((200, 30, 30)), _png((30, 200, 30))],
                mime_type="image/png",
                boxes=[
                    [Box("widget", 0.1, 0.2, 0.6, 0.7, 0.93)],
                    [Box("defect", 0.5, 0.5, 0.9, 0.9)],
                ],
            ),
            key="img",
        )
        await client.file_upload(file_metadata("../../report.txt"), chunks_of(b"report"), key="f")


async def _get(session: aiohttp.ClientSession, base: str, path: str, status: int = 200) -> Any:
    async with session.get(base + path) as response:
        assert response.status == status, await response.text()
        if response.content_type == "application/json":
            return await response.json()
        return await response.read()


def test_http_api(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path, http=True, api_key="k3y") as server:
            client = GrpcTransport(port=server.port, api_key="k3y", timeout=5)
            try:
                await client.data_capture_upload(
                    tabular_request([{"temp": 21.5}, {"temp": 22.0}], component_name="thermo"),
                    key="t",
                )
                await client.data_capture_upload(
                    binary_request([_png((1, 2, 3))], mime_type="image/png",
                                   boxes=[[Box("widget", 0.1, 0.2, 0.6, 0.7)]]),
                    key="img",
                )  # fmt: skip
            finally:
                await client.close()
            base = f"http://127.0.0.1:{server.http_port}"
            auth = {"Authorization": "Bearer k3y"}
            async with aiohttp.ClientSession() as session:
                items = await _get(session, base, "/api/items?component=thermo")
                assert items["total"] == 2
                assert [i["data"]["temp"] for i in items["items"]] == [21.5, 22.0]
                images = await _get(session, base, "/api/items?data_type=binary")
                (image,) = images["items"]
                assert image["annotations"]["bboxes"][0]["label"] == "widget"
                content = await _get(session, base, f"/api/items/{image['item_id']}/content")
                assert Image.open(io.BytesIO(content)).size == (64, 48)
                latest = await _get(session, base, "/api/latest")
                assert len(latest["items"]) == 2
                rows = await _get(session, base, "/api/readings?since=2023-11-14T22:13:21Z")
                assert [r["temp"] for r in rows["rows"]] == [22.0]
                await _get(session, base, "/api/items?data_type=video", status=400)
                await _get(session, base, "/api/items?since=soon", status=400)
                await _get(session, base, "/api/items/missing", status=404)
                exported = await _get(session, base, "/api/export?format=csv")
                assert exported.decode().count("\n") == 4

                async with session.post(base + "/api/sql", json={"sql": "SELECT 1"}) as r:
                    assert r.status == 401  # writes (and SQL) need the API key
                body = {"sql": "SELECT count(*) AS n FROM readings WHERE component_name = ?",
                        "params": ["thermo"]}  # fmt: skip
                async with session.post(base + "/api/sql", json=body, headers=auth) as r:
                    assert (await r.json())["rows"] == [[2]]
                async with session.post(
                    base + "/api/sql", json={"sql": "DELETE FROM items"}, headers=auth
                ) as r:
                    assert r.status == 400

                fault = {"fault_id": "nope", "kind": "reject", "code": "UNAVAILABLE", "count": 1}
                async with session.post(base + "/api/faults", json=fault, headers=auth) as r:
                    assert r.status == 201
                async with session.post(
                    base + "/api/faults", json={"fault_id": "x", "kind": "boom"}, headers=auth
                ) as r:
                    assert r.status == 400
                    assert "fault[x].kind" in (await r.json())["message"]
                listed = await _get(session, base, "/api/faults")
                assert [(f["fault_id"], f["remaining"]) for f in listed["faults"]] == [("nope", 1)]

                client = GrpcTransport(port=server.port, api_key="k3y", timeout=5)
                try:
                    with pytest.raises(CloudError, match="UNAVAILABLE"):
                        await client.data_capture_upload(tabular_request([{"x": 1}]), key="x")
                    await client.data_capture_upload(tabular_request([{"x": 1}]), key="x")
                finally:
                    await client.close()
                timeline = await _get(session, base, "/api/timeline?after=2")
                assert [(e["fault_id"], e["outcome"]) for e in timeline["entries"]] == [
                    ("nope", "error:UNAVAILABLE"), (None, "ok"),
                ]  # fmt: skip
                async with session.delete(base + "/api/faults/nope", headers=auth) as r:
                    assert r.status == 200
                async with session.delete(base + "/api/faults/nope", headers=auth) as r:
                    assert r.status == 404
                async with session.post(
                    base + "/api/faults/clear", headers={**auth, "Content-Type": "application/json"}
                ) as r:
                    assert (await r.json())["removed"] == 0
                stats = await _get(session, base, "/api/statistics")
                assert stats["cloud"]["uploads"] == 3
                assert stats["faults"]["fired"] == {"nope": 1}

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/items?since=nan", "since: 'nan'"),
        ("/api/items?since=inf", "since: 'inf'"),
        ("/api/items?since=1e30", "since: '1e30' is not a time between"),
        ("/api/items?until=-5", "until: '-5' is not a time between"),
        ("/api/readings?since=-1e12", "since: '-1e12' is not a time between"),
        ("/api/export?until=1e300", "until: '1e300' is not a time between"),
        ("/api/items?limit=99999999999999999999", "limit: 99999999999999999999 is more than"),
        ("/api/latest?offset=99999999999999999999", "offset: 99999999999999999999 is more than"),
        ("/api/items?limit=%C2%B2", "limit: '²' is not a whole number"),
        ("/api/timeline?after=%C2%B2", "after: '²' is not a whole number"),
        ("/api/timeline?after=-1", "after: '-1' is not a whole number"),
        ("/api/timeline?after=99999999999999999999", "after: 99999999999999999999 is more than"),
    ],
)
def test_bad_numbers_in_queries_are_400_naming_the_parameter(
    tmp_path: Path, path: str, parameter: str
) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path, http=True) as server:
            base = f"http://127.0.0.1:{server.http_port}"
            async with aiohttp.ClientSession() as session, session.get(base + path) as response:
                assert response.status == 400, await response.text()
                error = await response.json()
            assert error["error"] == "INVALID_ARGUMENT"
            assert parameter in error["message"]

    asyncio.run(scenario())


def test_sql_parameter_outside_sqlite_integers_is_400(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path, http=True) as server:
            base = f"http://127.0.0.1:{server.http_port}"
            body = {"sql": "SELECT ?, ?", "params": [1, 99999999999999999999999]}
            async with (
                aiohttp.ClientSession() as session,
                session.post(base + "/api/sql", json=body) as response,
            ):
                assert response.status == 400, await response.text()
                error = await response.json()
            assert "params[1]: 99999999999999999999999 does not fit" in error["message"]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("mime_type", "served_as", "inline"),
    [
        ("image/png", "image/png", True),
        ("image/jpeg", "image/jpeg", True),
        ("IMAGE/PNG; x=1", "image/png", True),
        ("text/html", "application/octet-stream", False),
        ("text/html; charset=utf-8", "application/octet-stream", False),
        ("text/html\r\nX-Evil: 1", "application/octet-stream", False),
        ("image/svg+xml", "application/octet-stream", False),
        ("", "application/octet-stream", False),
    ],
)
def test_content_is_served_inline_only_for_images_the_page_shows(
    tmp_path: Path, mime_type: str, served_as: str, inline: bool
) -> None:
    """Uploaded bytes are served on the web page's origin: anything but a plain image must
    not be rendered there (an uploader's text/html with a script would run as the page)."""
    body = b"<html><script>alert(document.domain)</script></html>"
    core = CloudCore(clock=lambda: 0.0, data_dir=str(tmp_path))
    core.ingest_data_capture(binary_request([body], mime_type=mime_type), key="k")
    (item,) = core.query()
    core.close()

    async def scenario() -> None:
        async with running_cloud(tmp_path, http=True) as server:
            url = f"http://127.0.0.1:{server.http_port}/api/items/{item.item_id}/content"
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                assert response.status == 200, await response.text()
                assert await response.read() == body
                headers = response.headers
            assert headers["Content-Type"] == served_as
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Content-Security-Policy"] == "sandbox"
            assert headers.get("Content-Disposition") == (None if inline else "attachment")
            assert "X-Evil" not in headers

    asyncio.run(scenario())


def test_cross_site_requests_cannot_change_anything(tmp_path: Path) -> None:
    """Without an API key, a page on another site could make the browser POST here: a form or
    text/plain POST needs no CORS preflight, so a write must be JSON, and a foreign Origin is
    refused whatever it sends."""
    restart = json.dumps({"fault_id": "boom", "kind": "restart", "count": 1})

    async def scenario() -> None:
        async with running_cloud(tmp_path, http=True) as server:
            base = f"http://127.0.0.1:{server.http_port}"
            evil = {"Origin": "http://evil.example"}
            as_json = {"Content-Type": "application/json"}
            plain = {"Content-Type": "text/plain"}
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            sql = json.dumps({"sql": "SELECT 1"})
            refused = [
                ("POST", "/api/faults", restart, {**plain, **evil}, 403),
                ("POST", "/api/faults", restart, plain, 415),
                ("POST", "/api/faults", restart, form, 415),
                ("POST", "/api/faults", restart, {}, 415),
                ("POST", "/api/faults", restart, {**as_json, **evil}, 403),
                ("POST", "/api/faults", restart, {**as_json, "Origin": "null"}, 403),
                ("POST", "/api/sql", sql, plain, 415),
                ("POST", "/api/sql", sql, {**as_json, **evil}, 403),
                ("POST", "/api/faults/clear", None, {}, 415),
                ("DELETE", "/api/faults/boom", None, evil, 403),
            ]
            async with aiohttp.ClientSession() as session:
                for method, path, body, headers, status in refused:
                    async with session.request(
                        method, base + path, data=body, headers=headers
                    ) as response:
                        assert response.status == status, (method, path, headers)
                        assert (await response.json())["error"] in (
                            "PERMISSION_DENIED",
                            "UNSUPPORTED_MEDIA_TYPE",
                        )
                assert (await _get(session, base, "/api/faults"))["faults"] == []

                # The page itself (same origin) and clients that send no Origin still work.
                reject = {"fault_id": "r", "kind": "reject", "code": "UNAVAILABLE", "count": 1}
                same_site = {"Origin": base, "Content-Type": "application/json; charset=utf-8"}
                async with session.post(
                    base + "/api/faults", data=json.dumps(reject), headers=same_site
                ) as response:
                    assert response.status == 201, await response.text()
                async with session.delete(base + "/api/faults/r") as response:
                    assert response.status == 200

    asyncio.run(scenario())


class _Dom(HTMLParser):
    """Collects the elements of the rendered page we assert on."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def having(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.found if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def test_web_page_in_headless_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")

    async def scenario() -> str:
        async with running_cloud(tmp_path / "data", http=True) as server:
            await _fill(server)
            url = f"http://127.0.0.1:{server.http_port}/"
            command = [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}",
                "--virtual-time-budget=15000", "--window-size=1200,900",
                f"--screenshot={tmp_path / 'page.png'}", "--dump-dom", url,
            ]  # fmt: skip
            done = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, timeout=90, check=False
            )
            assert done.returncode == 0, done.stderr[-2000:]
            return done.stdout

    html = asyncio.run(scenario())
    dom = _Dom()
    dom.feed(html)
    assert dom.having("body", **{"data-loaded": "true"}), "the page's script did not finish"
    assert len(dom.having("img", **{"class": "thumb"})) == 2
    labels = sorted(a["data-label"] or "" for a in dom.having("rect", **{"class": "bbox"}))
    assert labels == ["defect", "widget"]
    readings = [a for a in dom.having("tr") if a.get("data-item-id")]
    assert len(readings) >= 2 + 2  # readings table rows + latest rows
    assert "21.5" in html
    assert "../../report.txt" in html  # the file name, shown as metadata
    calls = dom.having("circle", **{"class": "call"})
    assert sorted(c["data-outcome"] or "" for c in calls) == ["ok", "ok", "ok"]
    # The thumbnails were decoded and drawn, so the content endpoint's headers suit <img>.
    shot = Image.open(tmp_path / "page.png").convert("RGB")
    pixels = {color: count for count, color in shot.getcolors(shot.width * shot.height) or []}
    assert pixels.get((200, 30, 30), 0) > 10_000, "the red thumbnail is not on the page"
    assert pixels.get((30, 200, 30), 0) > 10_000, "the green thumbnail is not on the page"
