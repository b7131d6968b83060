"""Seeded repeatability: same seed + same connection order → same toxicity and jitter decisions
(Toxiproxy's ``-seed`` seeds nothing, its #274)."""

from __future__ import annotations

import asyncio
import time

from tests.integration.net.proxy_env import client, echo_behind_proxy, round_trip, run

from dmsim.runtime import Trace

DECISIONS = ("accepted", "refused", "toxic.applies", "toxic.skips", "latency")


async def session(seed: int) -> tuple[list[tuple[object, ...]], list[str]]:
    seen: list[str] = []
    async with echo_behind_proxy(seed=seed) as proxy:
        await proxy.add_toxic(
            {"type": "latency", "toxicity": 0.5, "attributes": {"latency": 30, "jitter": 20}}
        )
        await proxy.add_toxic({"name": "flaky", "type": "down", "toxicity": 0.3})
        for _ in range(12):
            async with client(proxy) as (reader, writer):
                try:
                    await round_trip(reader, writer, b"ping")
                    seen.append("ok")
                except (ConnectionResetError, asyncio.IncompleteReadError):
                    seen.append("reset")
        journal = [
            (e.kind, e.connection, e.toxic, e.value) for e in proxy.journal() if e.kind in DECISIONS
        ]
    return journal, seen


def test_same_seed_same_decisions() -> None:
    first, second, other = (run(session(seed)) for seed in (7, 7, 8))
    assert first == second
    assert first[0] != other[0]
    journal, seen = first
    assert {"ok", "reset"} == set(seen)  # toxicity < 1 really splits connections
    decided = {kind for kind, _, toxic, _ in journal if toxic == "latency_downstream"}
    assert decided == {"toxic.applies", "toxic.skips", "latency"}
    delays = [value for kind, _, _, value in journal if kind == "latency"]
    assert delays
    assert all(isinstance(d, float) and 0.01 <= d <= 0.05 for d in delays)
    assert len(set(delays)) > 1  # jitter varies


def test_latency_observed_matches_the_journal() -> None:
    async def main() -> None:
        async with echo_behind_proxy(seed=3) as proxy:
            await proxy.add_toxic({"type": "latency", "attributes": {"latency": 50, "jitter": 40}})
            async with client(proxy) as (reader, writer):
                for _ in range(5):
                    _, took = await round_trip(reader, writer, b"t")
                    delay = [e.value for e in proxy.journal() if e.kind == "latency"][-1]
                    assert delay is not None
                    assert delay <= took < delay + 0.1

    run(main())


def test_proxy_decisions_go_to_a_trace() -> None:
    async def main() -> list[str]:
        trace = Trace(time.monotonic)
        async with echo_behind_proxy(trace=trace) as proxy:
            await proxy.add_toxic({"type": "limit_data", "attributes": {"bytes": 2}})
            async with client(proxy) as (reader, writer):
                writer.write(b"abc")
                assert await reader.read() == b"ab"
        return [e.kind for e in trace]

    kinds = run(main())
    assert kinds == [
        "net.proxy.listening",
        "net.proxy.toxic.added",
        "net.proxy.accepted",
        "net.proxy.toxic.applies",
        "net.proxy.limit_data",
        "net.proxy.closed.limit_data",
        "net.proxy.not-listening",
    ]
