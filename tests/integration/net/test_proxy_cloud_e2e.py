"""Uploads through the fault proxy to the real gRPC cloud, under each toxic: with retries that
reuse the idempotency key, every upload arrives exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.integration.net.proxy_env import LOOPBACK, run

from dmsim.cloud import CaptureFilter, CloudCore, CloudHost, CloudServer, GrpcTransport
from dmsim.cloud.samples import binary_request
from dmsim.errors import CloudError
from dmsim.net import FaultProxy
from dmsim.runtime import RealRuntime

UPLOADS = 8
RETRYABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "UNKNOWN", "CANCELLED", "INTERNAL"}


@dataclass
class Tally:
    ok: int = 0
    unknown: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@asynccontextmanager
async def cloud_behind_proxy(seed: int) -> AsyncIterator[tuple[CloudServer, FaultProxy]]:
    runtime = RealRuntime()
    core = CloudCore(clock=lambda: runtime.wall_ns() / 1e9)
    server = CloudServer(CloudHost(core, runtime=runtime))
    await server.start()
    proxy = FaultProxy(f"{LOOPBACK}:0", (LOOPBACK, server.port), seed=seed)
    await proxy.start()
    try:
        yield server, proxy
    finally:
        await proxy.stop()
        await server.stop()


async def upload_all(proxy: FaultProxy, *, payload: int, timeout: float) -> Tally:
    """Each upload retried with its key until acknowledged (bounded)."""
    tally = Tally()
    transport = GrpcTransport(host=LOOPBACK, port=proxy.listen_address[1], timeout=timeout)
    try:
        for i in range(UPLOADS):
            request = binary_request([bytes([i]) * payload], component_name=f"cam-{i}")
            for _ in range(40):
                try:
                    await transport.data_capture_upload(request, key=f"upload-{i}")
                    tally.ok += 1
                    break
                except CloudError as error:
                    if error.code not in RETRYABLE:
                        raise
                    tally.failed += 1
                    tally.errors.append(error.code)
                except (TimeoutError, ConnectionError) as error:
                    tally.unknown += 1
                    tally.errors.append(type(error).__name__)
                await asyncio.sleep(0.05)
            else:
                pytest.fail(f"upload-{i} never acknowledged: {tally}")
    finally:
        await transport.close()
    return tally


# (toxic, seconds until it is removed or None, payload bytes, client timeout)
CASES: dict[str, tuple[dict[str, Any], float | None, int, float]] = {
    "latency": ({"type": "latency", "attributes": {"latency": 100, "jitter": 50}}, None, 1000, 2.0),
    "bandwidth": ({"type": "bandwidth", "stream": "upstream", "attributes": {"rate": 200}},
                  None, 20_000, 3.0),
    "slicer": ({"type": "slicer", "stream": "upstream",
                "attributes": {"average_size": 64, "size_variation": 32, "delay": 50}},
               None, 4000, 3.0),
    "limit_data_upstream": ({"type": "limit_data", "stream": "upstream",
                             "attributes": {"bytes": 3000}}, None, 1000, 2.0),
    "limit_data_downstream": ({"type": "limit_data", "attributes": {"bytes": 150}},
                              1.0, 1000, 2.0),
    "reset_peer": ({"type": "reset_peer", "attributes": {"timeout": 20}}, 0.6, 1000, 2.0),
    "timeout": ({"type": "timeout", "attributes": {"timeout": 0}}, 1.0, 1000, 0.4),
    "down": ({"type": "down"}, 0.8, 1000, 1.0),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_toxic_delivers_every_upload_exactly_once(case: str) -> None:
    toxic, lifetime, payload, timeout = CASES[case]

    async def main() -> tuple[Tally, Any, list[int], dict[str, int]]:
        async with cloud_behind_proxy(seed=17) as (server, proxy):
            added = await proxy.add_toxic(toxic)

            async def lift() -> None:
                if lifetime is not None:
                    await asyncio.sleep(lifetime)
                    await proxy.remove_toxic(added.name)

            lifter = asyncio.ensure_future(lift())
            tally = await upload_all(proxy, payload=payload, timeout=timeout)
            await lifter
            core = server.host.core
            stats = core.statistics()
            present = [
                await server.host.call(core.count, CaptureFilter(component_name=f"cam-{i}"))
                for i in range(UPLOADS)
            ]
            return tally, stats, present, dict(proxy.statistics().toxics_fired)

    tally, stats, present, fired = run(main(), timeout=60)
    assert tally.ok == UPLOADS
    assert present == [1] * UPLOADS  # each upload stored exactly once
    assert stats.stored_items == UPLOADS  # one binary item per upload: nothing twice
    assert stats.uploads == UPLOADS  # new uploads; resends count as duplicates
    assert fired.get(toxic["type"], 0) >= 1, f"the toxic never acted: {fired}"
    if case in ("limit_data_downstream", "timeout"):
        # faults that strike after the cloud committed: the resend was a recognised duplicate
        assert tally.unknown > 0
        assert stats.duplicates > 0
