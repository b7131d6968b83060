"""Each toxic, end to end on loopback: an echo server behind the proxy, a client in front."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.integration.net.proxy_env import (
    LOOPBACK,
    client,
    echo_behind_proxy,
    echo_server,
    proxied,
    read_until_eof,
    round_trip,
    run,
)

from dmsim.net import FaultProxy


def test_no_toxic_is_a_transparent_pipe() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy, client(proxy) as (reader, writer):
            payload = bytes(range(256)) * 4000
            got, _ = await round_trip(reader, writer, payload)
            assert got == payload
            writer.write_eof()
            assert await reader.read() == b""  # half-close travels through
            stats = proxy.statistics()
            assert (stats.bytes_upstream, stats.bytes_downstream) == (len(payload), len(payload))

    run(main())


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_is_added_once_per_round_trip(stream: str) -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy, client(proxy) as (reader, writer):
            _, base = await round_trip(reader, writer, b"ping")
            await proxy.add_toxic(
                {"type": "latency", "stream": stream, "attributes": {"latency": 200}}
            )
            _, slow = await round_trip(reader, writer, b"ping")
            assert 0.2 <= slow < 0.2 + base + 0.15
            # a burst is delayed once, not once per chunk (delays run from arrival)
            _, burst = await round_trip(reader, writer, b"x" * 300_000)
            assert burst < 0.2 + 0.4

    run(main())


def test_bandwidth_cap_within_tolerance() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy, client(proxy) as (reader, writer):
            await proxy.add_toxic({"type": "bandwidth", "attributes": {"rate": 500}})  # 500 KB/s
            got, took = await round_trip(reader, writer, b"b" * 300_000)
            assert len(got) == 300_000
            assert 0.6 * 0.9 <= took <= 0.6 * 1.3

    run(main())


def test_limit_data_closes_after_exactly_n_bytes() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy:
            await proxy.add_toxic({"type": "limit_data", "attributes": {"bytes": 1000}})
            async with client(proxy) as (reader, writer):
                writer.write(b"L" * 5000)
                await writer.drain()
                data, _ = await read_until_eof(reader)
            assert data == b"L" * 1000
            assert proxy.statistics().closes == {"limit_data": 1}

    run(main())


def test_reset_peer_gives_econnreset() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy:
            await proxy.add_toxic(
                {"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 100}}
            )
            async with client(proxy) as (reader, writer):
                start = time.monotonic()
                writer.write(b"hello")
                await writer.drain()
                with pytest.raises(ConnectionResetError):
                    await reader.read(100)
                assert time.monotonic() - start >= 0.1
            assert proxy.statistics().closes == {"reset_peer": 1}

    run(main())


def test_timeout_zero_blackholes_until_removed() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy, client(proxy) as (reader, writer):
            await proxy.add_toxic({"type": "timeout", "attributes": {"timeout": 0}})
            writer.write(b"into the void")
            await writer.drain()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(reader.read(100), 0.5)
            await proxy.remove_toxic("timeout_downstream")
            # the dropped bytes broke the stream: removing the toxic ends the connection
            assert await asyncio.wait_for(reader.read(100), 2) == b""
            assert proxy.statistics().closes == {"timeout_removed": 1}

    run(main())


def test_timeout_closes_after_its_delay() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy:
            await proxy.add_toxic({"type": "timeout", "attributes": {"timeout": 300}})
            async with client(proxy) as (reader, writer):
                start = time.monotonic()
                writer.write(b"anyone?")
                data, _ = await read_until_eof(reader)
                assert data == b""
                assert 0.3 <= time.monotonic() - start < 1.0

    run(main())


def test_slicer_delivers_every_byte_in_many_small_reads() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy:
            await proxy.add_toxic(
                {
                    "type": "slicer",
                    "attributes": {"average_size": 100, "size_variation": 40, "delay": 2000},
                }
            )
            payload = bytes(range(256)) * 40  # 10 240 bytes
            async with client(proxy) as (reader, writer):
                writer.write(payload)
                await writer.drain()
                writer.write_eof()
                data, reads = await read_until_eof(reader)
            assert data == payload
            assert reads >= 30  # ~100 pieces, 2 ms apart; the kernel may merge a few

    run(main())


def test_down_refuses_and_closes_then_recovers() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy, client(proxy) as (reader, writer):
            await round_trip(reader, writer, b"up")
            await proxy.add_toxic({"type": "down"})
            assert await asyncio.wait_for(reader.read(10), 2) == b""  # live connection closed
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(*proxy.listen_address)
            await proxy.remove_toxic("down_downstream")
            async with client(proxy) as (reader2, writer2):
                got, _ = await round_trip(reader2, writer2, b"back")
                assert got == b"back"

    run(main())


def test_disabled_proxy_refuses_like_toxiproxy() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy:
            port = proxy.listen_address[1]
            await proxy.set_enabled(False)
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(LOOPBACK, port)
            await proxy.set_enabled(True)
            assert proxy.listen_address[1] == port  # same port again
            async with client(proxy) as (reader, writer):
                assert (await round_trip(reader, writer, b"on"))[0] == b"on"

    run(main())


def test_toxicity_zero_never_touches_traffic() -> None:
    async def main() -> None:
        async with echo_behind_proxy() as proxy:
            await proxy.add_toxic(
                {"type": "limit_data", "toxicity": 0.0, "attributes": {"bytes": 1}}
            )
            for _ in range(5):
                async with client(proxy) as (reader, writer):
                    assert (await round_trip(reader, writer, b"intact"))[0] == b"intact"
            assert proxy.statistics().toxics_fired == {}

    run(main())


def test_unreachable_upstream_resets_the_client() -> None:
    async def main() -> None:
        async with echo_server() as port:
            pass  # the port is free again: nothing listens there
        async with proxied(port) as proxy, client(proxy) as (reader, _):
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(10), 5)
            assert proxy.statistics().refused == 1

    run(main())


def test_stop_closes_live_connections() -> None:
    async def main() -> None:
        async with echo_server() as port:
            proxy = FaultProxy(f"{LOOPBACK}:0", (LOOPBACK, port), seed=1)
            await proxy.start()
            async with client(proxy) as (reader, writer):
                await round_trip(reader, writer, b"x")
                await proxy.stop()
                assert await asyncio.wait_for(reader.read(10), 2) == b""
            assert proxy.statistics().closes == {"proxy_stopped": 1}

    run(main())
