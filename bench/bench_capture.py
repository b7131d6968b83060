"""Capture benchmarks (issue 4), each printed as a ratio or rate measured in this run.

(a) Simulated capture overhead per reading, as a ratio to a bare simpy timeout event measured
    in the same process: a collector with an instant device and a null sink, so the figure is
    the machinery (schedule, queue, writer loop, SensorData encoding), not a device model.
    The encoding alone is measured too: it is most of the figure's floor.
(b) On the real runtime (asyncio, wall clock): the highest sustained rate of one tabular
    collector with its deadline jitter p99, and the aggregate rate of 50 collectors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import simpy

from dmsim.capture import Collector, StampedReading
from dmsim.capture._encode import to_sensor_data
from dmsim.devices import CaptureResult, TabularReading
from dmsim.runtime import RealRuntime, Runtime, SimKernel


@dataclass
class InstantSensor:
    rt: Runtime
    calls: list[float] = field(default_factory=list)
    record: bool = False

    async def capture(self, method: str, params: Mapping[str, str]) -> CaptureResult:
        now = self.rt.monotonic()
        if self.record:
            self.calls.append(now)
        t = self.rt.wall_ns()
        return CaptureResult(
            (TabularReading({"temperature_c": 21.5, "seq": len(self.calls)}),), t, t
        )


class NullSink:
    def __init__(self) -> None:
        self.count = 0

    def write(self, reading: StampedReading) -> None:
        self.count += 1

    def sync(self) -> None: ...

    def close_file(self) -> None: ...

    def close(self) -> None: ...


def collector(
    rt: Runtime, source: InstantSensor, sink: NullSink, hz: float, name: str
) -> Collector:
    return Collector(
        rt=rt,
        stream=name,
        boot=0,
        source=source,
        method="Readings",
        params={},
        period_s=1.0 / hz,
        queue_size=250,
        sink=sink,
        durability_window_s=1.0,
        capture_timeout_s=5.0,
    )


def bare_simpy_timeout_s(events: int) -> float:
    env = simpy.Environment()

    def ticker() -> Any:
        for _ in range(events):
            yield env.timeout(0.001)

    env.process(ticker())
    start = time.perf_counter()
    env.run()
    return (time.perf_counter() - start) / events


def encoding_per_reading_s(readings: int) -> float:
    """``to_sensor_data`` alone for the bench's reading: a floor under any collector that turns
    device readings into ``SensorData`` as it captures them."""
    reading = TabularReading({"temperature_c": 21.5, "seq": 1})
    start = time.perf_counter()
    for t in range(readings):
        to_sensor_data(reading, time_requested_ns=t, time_received_ns=t)
    return (time.perf_counter() - start) / readings


def sim_capture_per_reading_s(readings: int) -> float:
    kernel = SimKernel(epoch_ns=0)
    rt = kernel.process("bench")
    sink = NullSink()
    c = collector(rt, InstantSensor(rt), sink, 1000.0, "sim")
    c.start()
    start = time.perf_counter()
    kernel.run(until=readings / 1000.0 + 0.0005)
    elapsed = time.perf_counter() - start
    return elapsed / max(1, sink.count)


async def stop(c: Collector) -> None:
    """Stop capturing and write out what is queued, as a shutdown does."""
    await c.stop_capture()
    await c.finish(drain_timeout_s=60.0)


def real_rate(hz: float, seconds: float) -> dict[str, float]:
    rt = RealRuntime()
    source = InstantSensor(rt, record=True)
    sink = NullSink()

    async def main() -> None:
        c = collector(rt, source, sink, hz, "real")
        c.start()
        await rt.sleep(seconds)
        await stop(c)

    rt.run_main(main())
    period = 1.0 / hz
    origin = source.calls[0] - period if source.calls else 0.0
    lateness = sorted(t - (origin + round((t - origin) / period) * period) for t in source.calls)
    jitter = [abs(x) for x in lateness]
    jitter.sort()
    p99 = jitter[int(0.99 * (len(jitter) - 1))] if jitter else float("inf")
    return {"target_hz": hz, "achieved_hz": sink.count / seconds, "jitter_p99_ms": p99 * 1e3}


def real_aggregate(collectors: int, hz: float, seconds: float) -> dict[str, float]:
    rt = RealRuntime()
    sinks = [NullSink() for _ in range(collectors)]

    async def main() -> None:
        running = [
            collector(rt, InstantSensor(rt), sink, hz, f"c{i}") for i, sink in enumerate(sinks)
        ]
        for c in running:
            c.start()
        await rt.sleep(seconds)
        for c in running:
            await stop(c)

    rt.run_main(main())
    total = sum(s.count for s in sinks)
    return {
        "collectors": collectors,
        "target_hz_each": hz,
        "aggregate_hz": total / seconds,
        "target_aggregate_hz": collectors * hz,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    args = parser.parse_args(argv)
    n = 20_000 if args.quick else 100_000
    seconds = 1.0 if args.quick else 3.0
    bare = statistics.median(bare_simpy_timeout_s(n) for _ in range(3))
    per_reading = statistics.median(sim_capture_per_reading_s(n // 2) for _ in range(3))
    encoding = statistics.median(encoding_per_reading_s(n // 2) for _ in range(3))
    results: dict[str, Any] = {
        "sim_bare_timeout_us": bare * 1e6,
        "sim_capture_per_reading_us": per_reading * 1e6,
        "sim_overhead_ratio": per_reading / bare,
        "sim_overhead_target": 5.0,
        "sim_encoding_per_reading_us": encoding * 1e6,
        "sim_encoding_ratio": encoding / bare,
        "real_single": [real_rate(hz, seconds) for hz in (1000.0, 2000.0, 5000.0, 10000.0)],
        "real_aggregate": real_aggregate(50, 200.0, seconds),
    }
    best = max(
        (
            r
            for r in results["real_single"]
            if r["achieved_hz"] >= 0.98 * r["target_hz"] and r["jitter_p99_ms"] < 1.0
        ),
        key=lambda r: r["target_hz"],
        default=None,
    )
    results["real_max_sustained_hz"] = best["target_hz"] if best else 0.0
    print(
        f"simulated capture: {per_reading * 1e6:.1f} µs/reading vs bare simpy timeout "
        f"{bare * 1e6:.2f} µs → ratio {per_reading / bare:.1f}× (target ≤ 5×)"
    )
    print(
        f"  of which SensorData encoding alone: {encoding * 1e6:.1f} µs = "
        f"{encoding / bare:.1f}× a bare timeout; a reading also costs two simpy events "
        f"(its tick, and waking the writer task)"
    )
    for r in results["real_single"]:
        print(
            f"real runtime, one collector at {r['target_hz']:>6.0f} Hz: achieved "
            f"{r['achieved_hz']:8.1f} Hz, deadline jitter p99 {r['jitter_p99_ms']:.3f} ms"
        )
    agg = results["real_aggregate"]
    print(
        f"real runtime, {agg['collectors']} collectors × {agg['target_hz_each']:.0f} Hz: "
        f"aggregate {agg['aggregate_hz']:.0f} Hz of {agg['target_aggregate_hz']:.0f} Hz"
    )
    print(
        f"highest sustained single-collector rate with p99 jitter < 1 ms: "
        f"{results['real_max_sustained_hz']:.0f} Hz (target ≥ 5000)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    return results


if __name__ == "__main__":
    main()
