"""Load benchmark of the fake cloud: N concurrent uploaders on loopback for a while, then an
exactly-once check of what the cloud stored.

    python bench/bench_cloud.py [--uploaders 100] [--duration 60] [--json OUT]

Starts ``dmsim cloud serve`` in a subprocess on a fresh data directory. Each uploader has its
own gRPC connection (``GrpcTransport``) and loops until the deadline over a seeded mix of
uploads: 70 % DataCaptureUpload with 10 tabular readings, 20 % one 16 KiB binary capture,
10 % a 256 KiB StreamingDataCaptureUpload; one upload in ten is sent a second time with the
same key (a retry), which the cloud must acknowledge without storing it again. Every reading
carries a dmsim identity (uploader, sequence number). A probe uploads one small reading
every 0.5 s and times it (is the server still responsive under load?).

Afterwards the data directory is read back: every identity sent must be stored exactly once
(``lost`` and ``duplicated`` must be 0). Prints throughput and latency percentiles; with
``--json`` writes them to a file (``make bench`` collects these).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from viam.proto.app.datasync import DataCaptureUploadRequest, SensorData

from dmsim.cloud import CaptureFilter, CloudCore, GrpcTransport
from dmsim.cloud.samples import binary_request, streaming_metadata, tabular_request
from dmsim.storage._identity import ReadingId, identity_field_bytes, with_identity

TABULAR_READINGS = 10
BINARY_BYTES = 16 * 1024
STREAM_BYTES = 256 * 1024
CHUNK = 64 * 1024


@dataclass
class LoadStats:
    latencies: list[float] = field(default_factory=list)
    probe_latencies: list[float] = field(default_factory=list)
    uploads: int = 0
    resends: int = 0
    bytes_sent: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    sent: set[tuple[str, int]] = field(default_factory=set)


@dataclass(frozen=True)
class LoadReport:
    uploaders: int
    duration_s: float
    uploads: int
    resends: int
    readings_sent: int
    errors: dict[str, int]
    uploads_per_s: float
    mb_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    probe_max_ms: float
    probes: int
    stored: int
    lost: int
    duplicated: int


def _tag(request: DataCaptureUploadRequest, stream: str, seqs: list[int]) -> None:
    for reading, seq in zip(request.sensor_contents, seqs, strict=True):
        tagged: SensorData = with_identity(reading, ReadingId(stream, 1, seq))
        reading.CopyFrom(tagged)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


Resend = Callable[[], Awaitable[object]]


async def _one_upload(
    client: GrpcTransport, rng: random.Random, stream: str, seq: int, stats: LoadStats
) -> tuple[int, Resend]:
    """Build and send one upload; returns the readings in it and how to send it again."""
    roll = rng.random()
    key = f"{stream}-{seq}"
    base_ns = 1_700_000_000 * 10**9 + seq * 10**6
    if roll < 0.7:
        seqs = list(range(seq, seq + TABULAR_READINGS))
        request = tabular_request(
            [{"v": rng.random(), "i": s} for s in seqs],
            component_name=f"sensor-{stream}",
            start_ns=base_ns,
        )
        _tag(request, stream, seqs)
        stats.bytes_sent += request.ByteSize()
        await client.data_capture_upload(request, key=key)
        stats.sent.update((stream, s) for s in seqs)
        return TABULAR_READINGS, lambda: client.data_capture_upload(request, key=key)
    if roll < 0.9:
        request = binary = binary_request([rng.randbytes(BINARY_BYTES)], start_ns=base_ns)
        _tag(request, stream, [seq])
        stats.bytes_sent += request.ByteSize()
        await client.data_capture_upload(request, key=key)
        stats.sent.add((stream, seq))
        return 1, lambda: client.data_capture_upload(binary, key=key)
    metadata = streaming_metadata(time_ns=base_ns)
    # StreamingDataCaptureUpload has no SensorData: the identity rides on SensorMetadata.
    metadata.sensor_metadata.MergeFromString(identity_field_bytes(ReadingId(stream, 1, seq)))
    payload = rng.randbytes(STREAM_BYTES)
    stats.bytes_sent += len(payload)
    await client.streaming_data_capture_upload(metadata, _chunks(payload), key=key)
    stats.sent.add((stream, seq))
    return 1, lambda: client.streaming_data_capture_upload(metadata, _chunks(payload), key=key)


async def _uploader(
    index: int, *, port: int, deadline: float, seed: int, stats: LoadStats, api_key: str | None
) -> None:
    rng = random.Random(seed * 1000 + index)
    stream = f"u{index:03d}"
    client = GrpcTransport(port=port, timeout=60.0, api_key=api_key)
    seq = 0
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                count, resend = await _one_upload(client, rng, stream, seq, stats)
            except Exception as error:  # counted and reported; the run goes on
                stats.errors[type(error).__name__] += 1
                continue
            stats.latencies.append(time.perf_counter() - started)
            stats.uploads += 1
            if rng.random() < 0.1:
                started = time.perf_counter()
                try:
                    await resend()
                    stats.latencies.append(time.perf_counter() - started)
                    stats.resends += 1
                except Exception as error:
                    stats.errors[f"resend {type(error).__name__}"] += 1
            seq += count
    finally:
        await client.close()


async def _probe(port: int, deadline: float, stats: LoadStats, api_key: str | None) -> None:
    client = GrpcTransport(port=port, timeout=60.0, api_key=api_key)
    n = 0
    try:
        while time.monotonic() < deadline:
            request = tabular_request([{"probe": n}], component_name="probe", start_ns=n)
            _tag(request, "probe", [n])
            started = time.perf_counter()
            try:
                await client.data_capture_upload(request, key=f"probe-{n}")
                stats.probe_latencies.append(time.perf_counter() - started)
                stats.sent.add(("probe", n))
            except Exception as error:
                stats.errors[f"probe {type(error).__name__}"] += 1
            n += 1
            await asyncio.sleep(0.5)
    finally:
        await client.close()


async def run_load(
    *, port: int, uploaders: int, duration: float, seed: int = 0, api_key: str | None = None
) -> LoadStats:
    """Drive the cloud at ``port``; returns what was sent and how long it took."""
    stats = LoadStats()
    deadline = time.monotonic() + duration
    await asyncio.gather(
        _probe(port, deadline, stats, api_key),
        *(
            _uploader(i, port=port, deadline=deadline, seed=seed, stats=stats, api_key=api_key)
            for i in range(uploaders)
        ),
    )
    return stats


def check_exactly_once(data_dir: Path, stats: LoadStats) -> tuple[int, int, int]:
    """(stored, lost, duplicated) identities, reading the data directory back."""
    core = CloudCore(clock=lambda: 0.0, data_dir=str(data_dir), read_only=True)
    try:
        stored = Counter(
            (item.reading_stream, item.reading_seq)
            for item in core.query(CaptureFilter())
            if item.reading_stream is not None
        )
    finally:
        core.close()
    lost = len(stats.sent - set(stored))
    duplicated = sum(1 for count in stored.values() if count > 1)
    return sum(stored.values()), lost, duplicated


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(
    stats: LoadStats, *, uploaders: int, duration: float, stored: tuple[int, int, int]
) -> LoadReport:
    ms = 1000.0
    return LoadReport(
        uploaders=uploaders,
        duration_s=duration,
        uploads=stats.uploads,
        resends=stats.resends,
        readings_sent=len(stats.sent),
        errors=dict(stats.errors),
        uploads_per_s=(stats.uploads + stats.resends) / duration,
        mb_per_s=stats.bytes_sent / duration / 1e6,
        latency_p50_ms=statistics.median(stats.latencies) * ms if stats.latencies else 0.0,
        latency_p99_ms=_percentile(stats.latencies, 0.99) * ms,
        latency_max_ms=max(stats.latencies, default=0.0) * ms,
        probe_max_ms=max(stats.probe_latencies, default=0.0) * ms,
        probes=len(stats.probe_latencies),
        stored=stored[0],
        lost=stored[1],
        duplicated=stored[2],
    )


def _start_server(data: Path) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "dmsim.cli", "cloud", "serve", "--data", str(data)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    port = 0
    for line in server.stdout:
        if line.startswith("grpc: "):
            port = int(line.rsplit(":", 1)[1])
        if line.strip() == "ready":
            return server, port
    raise RuntimeError(f"dmsim cloud serve exited with {server.wait()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploaders", type=int, default=100)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="dmsim-bench-cloud-"))
    try:
        server, port = _start_server(data)
        try:
            stats = asyncio.run(
                run_load(
                    port=port, uploaders=args.uploaders, duration=args.duration, seed=args.seed
                )
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        result = report(
            stats,
            uploaders=args.uploaders,
            duration=args.duration,
            stored=check_exactly_once(data, stats),
        )
    finally:
        shutil.rmtree(data, ignore_errors=True)
    for name, value in asdict(result).items():
        print(f"{name:>16}: {value:.1f}" if isinstance(value, float) else f"{name:>16}: {value}")
    if args.json is not None:
        args.json.write_text(json.dumps({"bench": "cloud", **asdict(result)}, indent=2) + "\n")
    return 0 if result.lost == 0 and result.duplicated == 0 and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
