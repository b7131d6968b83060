"""Fault-proxy overhead on loopback, and the speed of the simulated link and transport.

Usage::

    python bench/bench_proxy.py [--megabytes 200] [--round-trips 2000] [--json OUT]

- **throughput**: one TCP connection pushes ``--megabytes`` through an echo server, direct and
  through a :class:`~dmsim.net.FaultProxy` with no toxic (bytes sent and echoed back; MB/s of
  payload, best of three rounds each).
- **latency**: ``--round-trips`` 64-byte ping-pongs on one connection, direct and proxied;
  p50/p99 of each and the proxy's added p50/p99.
- **simulation**: SimLink transfers and SimCloudTransport uploads (lte profile, in-memory
  cloud) per second of wall time, and how much faster than real time the simulated uploads ran.

Prints one line per figure and, last, a JSON object with every figure; ``--json`` also writes it
to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from dmsim.cloud import CloudCore
from dmsim.cloud.samples import tabular_request
from dmsim.net import FaultProxy, SimCloudTransport, SimLink
from dmsim.runtime import RngTree, Runtime, SimKernel

LOOPBACK = "127.0.0.1"


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def push(port: int, total: int) -> float:
    """Seconds to send ``total`` bytes and read them all back on one connection."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    block = b"\x5a" * (1 << 16)
    start = time.perf_counter()

    async def send() -> None:
        for _ in range(total // len(block)):
            writer.write(block)
            await writer.drain()

    sender = asyncio.ensure_future(send())
    got = 0
    while got < total:
        got += len(await reader.read(1 << 16))
    await sender
    took = time.perf_counter() - start
    writer.close()
    return took


async def ping(port: int, count: int) -> list[float]:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        writer.write(b"p" * 64)
        await reader.readexactly(64)
        times.append(time.perf_counter() - start)
    writer.close()
    return times


async def best(rounds: int, run: Callable[[], Awaitable[float]]) -> float:
    return min([await run() for _ in range(rounds)])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def real_side(megabytes: int, round_trips: int) -> dict[str, Any]:
    server = await asyncio.start_server(echo, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    proxy = FaultProxy(f"{LOOPBACK}:0", (LOOPBACK, port), seed=0)
    await proxy.start()
    proxied = proxy.listen_address[1]
    total = megabytes * 1_000_000 // (1 << 16) * (1 << 16)
    try:
        direct_s = await best(3, lambda: push(port, total))
        proxy_s = await best(3, lambda: push(proxied, total))
        direct_rtt = await ping(port, round_trips)
        proxy_rtt = await ping(proxied, round_trips)
    finally:
        await proxy.stop()
        server.close()
        await server.wait_closed()
    return {
        "throughput_direct_mb_s": total / direct_s / 1e6,
        "throughput_proxy_mb_s": total / proxy_s / 1e6,
        "rtt_direct_p50_us": percentile(direct_rtt, 0.5) * 1e6,
        "rtt_direct_p99_us": percentile(direct_rtt, 0.99) * 1e6,
        "rtt_proxy_p50_us": percentile(proxy_rtt, 0.5) * 1e6,
        "rtt_proxy_p99_us": percentile(proxy_rtt, 0.99) * 1e6,
        "added_p50_us": (percentile(proxy_rtt, 0.5) - percentile(direct_rtt, 0.5)) * 1e6,
        "added_p99_us": (percentile(proxy_rtt, 0.99) - percentile(direct_rtt, 0.99)) * 1e6,
    }


def simulated_side(transfers: int, uploads: int) -> dict[str, Any]:
    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)

    async def link_only(rt: Runtime) -> None:
        async with SimLink(rt, rng=RngTree(1).child("bench"), profile="lan") as link:
            for _ in range(transfers):
                await link.transfer(1000, "upstream", deadline=rt.monotonic() + 10)

    start = time.perf_counter()
    kernel.run_main(link_only(kernel.process("link")))
    link_s = time.perf_counter() - start

    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)
    request = tabular_request([{"temperature_c": 21.5, "humidity_pct": 40.0}] * 10)

    async def upload(rt: Runtime) -> float:
        core = CloudCore(clock=rt.monotonic)
        link = SimLink(rt, rng=RngTree(1).child("bench"), profile="lte")
        transport = SimCloudTransport(rt, link, core, timeout=30.0)
        async with link:
            for i in range(uploads):
                for _ in range(20):
                    try:
                        await transport.data_capture_upload(request, key=f"k{i}")
                        break
                    except (TimeoutError, ConnectionError):
                        continue
        return rt.monotonic()

    start = time.perf_counter()
    simulated = kernel.run_main(upload(kernel.process("device")))
    upload_s = time.perf_counter() - start
    return {
        "sim_link_transfers_per_s": transfers / link_s,
        "sim_uploads_per_s": uploads / upload_s,
        "sim_upload_speedup_vs_real_time": simulated / upload_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--transfers", type=int, default=50_000)
    parser.add_argument("--uploads", type=int, default=2_000)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    args = parser.parse_args()
    figures = asyncio.run(real_side(args.megabytes, args.round_trips))
    figures.update(simulated_side(args.transfers, args.uploads))
    for name, value in figures.items():
        print(f"{name:36s} {value:14.1f}")
    report = {"bench": "proxy", **figures}
    print(json.dumps(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
