"""Sync benchmarks: tiny-file rate, large-binary throughput over gRPC, backlog memory.

Run ``python bench/bench_sync.py`` (``--help`` for sizes). Every ratio is measured in the same
run as its baseline. Prints one line per figure and, last, a JSON object with every figure.

1. **Tiny files** — N small tabular capture files on the real disk (a temporary directory),
   synced on the real runtime into an in-process ``CloudCore`` through a direct transport (no
   network): files per second, including hashing, validation, request building, the cloud's
   ingest and the durable delete (unlink + directory fsync) of every file.
2. **Large binary** — one binary capture file with a large payload, synced to the gRPC fake
   cloud on loopback (``GrpcTransport`` → ``CloudServer``), against a raw loopback TCP transfer
   of the same number of bytes (asyncio streams, 64 KiB writes, the receiver discarding):
   throughput ratio sync/raw (target ≥ 0.5). The same file is also synced in-process (direct
   transport into a ``CloudCore``, no network), so the report splits the time between the
   engine plus the cloud's ingest and the gRPC stack.
3. **Backlog memory** — a backlog of M capture files (default 1,000,000) synced on simulated
   time, in a fresh process. The files come from a generated filesystem (content made from a
   template on read, deletions kept in a bitmap), so the memory measured is the engine's, not a
   disk image's: peak RSS, RSS sampled every 5 % of the files, and the growth while syncing,
   for M and for M/10 (flat: the same peak for both, no growth along the way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import posixpath
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from viam.proto.app.data import CreateSequenceRequest, CreateSequenceResponse
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadResponse,
    DataType,
    FileUploadResponse,
    StreamingDataCaptureUploadResponse,
    UploadMetadata,
)

from dmsim.cloud import CloudCore, CloudHost, CloudServer, GrpcTransport
from dmsim.runtime import RealRuntime, RngTree, Runtime, SimKernel
from dmsim.storage._codec import (
    binary_reading,
    build_metadata,
    encode_metadata,
    encode_sensor_data,
    tabular_reading,
)
from dmsim.storage._fs import DiskUsage, FileStat
from dmsim.storage._identity import ReadingId
from dmsim.storage._realfs import RealFS
from dmsim.sync import (
    DataCaptureRequest,
    InUseTracker,
    SyncEngine,
    SyncSettings,
    request_bytes,
    request_message,
)

EPOCH_NS = 1_700_000_000 * 10**9
FILES_PER_DIR = 1000


# -- shared pieces ------------------------------------------------------------------------------


def tabular_file_bytes(stream: str, readings: int, start: int = 0) -> bytes:
    metadata = build_metadata(
        component_type="rdk:component:sensor",
        component_name=stream,
        method_name="Readings",
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        file_extension=".dat",
    )
    records = [
        encode_sensor_data(
            tabular_reading(
                {"temperature_c": 21.5 + seq / 10, "humidity": 40 + seq},
                time_requested_ns=EPOCH_NS + seq,
                time_received_ns=EPOCH_NS + seq + 1000,
            ),
            ReadingId(stream, 1, seq),
        )
        for seq in range(start, start + readings)
    ]
    return encode_metadata(metadata) + b"".join(records)


class DirectTransport:
    """The transport port straight into a ``CloudCore`` (or, without one, only counting)."""

    def __init__(self, core: CloudCore | None) -> None:
        self.core = core
        self.requests = 0
        self.bytes = 0

    async def data_capture_upload(
        self, request: DataCaptureRequest, *, key: str
    ) -> DataCaptureUploadResponse:
        self.requests += 1
        self.bytes += len(request_bytes(request))
        if self.core is not None:
            self.core.ingest_data_capture(request_message(request), key=key)
        return DataCaptureUploadResponse()

    async def file_upload(
        self, metadata: UploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> FileUploadResponse:
        data = b"".join([chunk async for chunk in chunks])
        self.requests += 1
        self.bytes += len(data)
        if self.core is not None:
            self.core.ingest_file(metadata, data, key=key)
        return FileUploadResponse()

    async def streaming_data_capture_upload(
        self, metadata: DataCaptureUploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> StreamingDataCaptureUploadResponse:
        data = b"".join([chunk async for chunk in chunks])
        self.requests += 1
        self.bytes += len(data)
        if self.core is not None:
            self.core.ingest_streaming(metadata, data, key=key)
        return StreamingDataCaptureUploadResponse()

    async def create_sequence(
        self, request: CreateSequenceRequest, *, key: str
    ) -> CreateSequenceResponse:
        self.requests += 1
        if self.core is not None:
            self.core.create_sequence(request, key=key)
        return CreateSequenceResponse()

    async def close(self) -> None:
        return None


def make_engine(rt: Runtime, fs: Any, transport: Any, capture_dir: str, threads: int) -> SyncEngine:
    async def flush() -> None:
        return None

    return SyncEngine(
        rt=rt,
        fs=fs,
        transport=transport,
        settings=SyncSettings(
            capture_dir=capture_dir,
            part_id="bench-part",
            sync_disabled=True,
            maximum_num_sync_threads=threads,
        ),
        rng=RngTree(1),
        trace=None,
        tracker=InUseTracker(),
        flush_capture=flush,
        is_online=lambda: True,
    )


# -- 1. tiny files ------------------------------------------------------------------------------


def bench_tiny_files(count: int, threads: int) -> dict[str, Any]:
    size = 0
    with tempfile.TemporaryDirectory(prefix="dmsim-bench-sync-") as tmp:
        capture = Path(tmp) / "capture"
        for index in range(count):
            folder = capture / "rdk_component_sensor" / f"d{index // FILES_PER_DIR:05d}"
            if index % FILES_PER_DIR == 0:
                folder.mkdir(parents=True)
            data = tabular_file_bytes("tmp36", 3, start=3 * index)  # distinct readings
            size = len(data)
            (folder / f"{index:08d}.capture").write_bytes(data)
        rt = RealRuntime()
        core = CloudCore(clock=lambda: rt.wall_ns() / 1e9)
        transport = DirectTransport(core)

        async def run() -> float:
            engine = make_engine(rt, RealFS(), transport, str(capture), threads)
            engine.start()
            started = time.perf_counter()
            report = await engine.sync_now()
            elapsed = time.perf_counter() - started
            await engine.close()
            if report.uploaded != count:
                raise RuntimeError(f"tiny files: uploaded {report.uploaded} of {count}")
            return elapsed

        elapsed = rt.run_main(run())
        readings = core.statistics().readings
        left = sum(1 for _ in capture.rglob("*.capture"))
    return {
        "files": count,
        "file_bytes": size,
        "seconds": round(elapsed, 3),
        "files_per_s": round(count / elapsed, 1),
        "cloud_readings": readings,
        "files_left": left,
    }


# -- 2. large binary over gRPC vs raw TCP --------------------------------------------------------


async def raw_loopback_seconds(payload: bytes) -> float:
    """Send ``payload`` over a loopback TCP connection in 64 KiB writes; time to the last byte."""
    done = asyncio.get_running_loop().create_future()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = 0
        while chunk := await reader.read(1 << 20):
            got += len(chunk)
            if got >= len(payload):
                break
        writer.close()
        done.set_result(got)

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = time.perf_counter()
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    view = memoryview(payload)
    for start in range(0, len(payload), 64 * 1024):
        writer.write(view[start : start + 64 * 1024])
        await writer.drain()
    await done
    elapsed = time.perf_counter() - started
    writer.close()
    server.close()
    await server.wait_closed()
    return elapsed


def bench_large_binary(megabytes: int, repeats: int) -> dict[str, Any]:
    payload = bytes(range(256)) * (megabytes * 4096)
    metadata = build_metadata(
        component_type="rdk:component:camera",
        component_name="cam",
        method_name="NextPointCloud",
        data_type=DataType.DATA_TYPE_BINARY_SENSOR,
        mime_type="pointcloud/pcd",
    )
    record = encode_sensor_data(
        binary_reading(payload, time_requested_ns=EPOCH_NS, time_received_ns=EPOCH_NS + 1),
        ReadingId("cam", 1, 0),
    )
    file_bytes = encode_metadata(metadata) + record
    sync_times: list[float] = []
    in_process_times: list[float] = []
    raw_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dmsim-bench-sync-") as tmp:
        rt = RealRuntime()

        async def sync_once(engine: SyncEngine, capture: Path, name: str) -> float:
            folder = capture / "rdk_component_camera" / "cam" / "NextPointCloud"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.capture").write_bytes(file_bytes)
            started = time.perf_counter()
            report = await engine.sync_now()
            elapsed = time.perf_counter() - started
            if report.uploaded != 1:
                raise RuntimeError(f"large binary: {report}")
            return elapsed

        async def run() -> None:
            core = CloudCore(clock=lambda: rt.wall_ns() / 1e9)
            server = CloudServer(CloudHost(core, runtime=rt))
            await server.start()
            transport = GrpcTransport(port=server.port, timeout=600.0)
            grpc_dir, direct_dir = Path(tmp) / "grpc", Path(tmp) / "direct"
            engine = make_engine(rt, RealFS(), transport, str(grpc_dir), 1)
            direct = DirectTransport(CloudCore(clock=lambda: rt.wall_ns() / 1e9))
            in_process = make_engine(rt, RealFS(), direct, str(direct_dir), 1)
            engine.start()
            in_process.start()
            try:
                for attempt in range(repeats):
                    sync_times.append(await sync_once(engine, grpc_dir, f"{attempt:04d}"))
                    in_process_times.append(
                        await sync_once(in_process, direct_dir, f"{attempt:04d}")
                    )
                    raw_times.append(await raw_loopback_seconds(payload))
            finally:
                await in_process.close()
                await engine.close()
                await transport.close()
                await server.stop()

        rt.run_main(run())
    best_sync, best_in_process, best_raw = min(sync_times), min(in_process_times), min(raw_times)
    mb = len(payload) / 1e6
    return {
        "payload_bytes": len(payload),
        "sync_seconds": round(best_sync, 3),
        "raw_seconds": round(best_raw, 3),
        "in_process_seconds": round(best_in_process, 3),
        "sync_mb_per_s": round(mb / best_sync, 1),
        "raw_mb_per_s": round(mb / best_raw, 1),
        "in_process_mb_per_s": round(mb / best_in_process, 1),
        "ratio": round(best_raw / best_sync, 3),
        "in_process_ratio": round(best_raw / best_in_process, 3),
        "grpc_share_of_sync": round(1 - best_in_process / best_sync, 3),
    }


# -- 3. backlog memory -------------------------------------------------------------------------


class GeneratedFS:
    """A read-mostly filesystem of ``count`` identical capture files under ``root``, in
    directories of 1000; content comes from one template, deletions live in a bitmap."""

    def __init__(self, root: str, count: int, content: bytes, mtime_ns: int) -> None:
        self.root = root
        self.count = count
        self.content = content
        self.mtime_ns = mtime_ns
        self.deleted = bytearray((count + 7) // 8)
        self.dirs = (count + FILES_PER_DIR - 1) // FILES_PER_DIR

    def _index(self, path: str) -> int:
        head, name = posixpath.split(path)
        if posixpath.dirname(head) != self.root or not name.endswith(".capture"):
            raise FileNotFoundError(2, "No such file", path)
        index = int(name[:-8])
        if not 0 <= index < self.count or self.deleted[index >> 3] & (1 << (index & 7)):
            raise FileNotFoundError(2, "No such file", path)
        return index

    def walk(
        self, root: str, on_error: Callable[[OSError], None] | None = None
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        # a generated directory can always be listed: on_error is never called
        names = [f"d{d:05d}" for d in range(self.dirs)]
        yield self.root, names, []
        for directory in list(names):
            d = int(directory[1:])
            first, last = d * FILES_PER_DIR, min(self.count, (d + 1) * FILES_PER_DIR)
            files = [
                f"{i:08d}.capture"
                for i in range(first, last)
                if not self.deleted[i >> 3] & (1 << (i & 7))
            ]
            yield posixpath.join(self.root, directory), [], files

    def stat(self, path: str) -> FileStat:
        self._index(path)
        return FileStat(len(self.content), self.mtime_ns)

    def open_read(self, path: str) -> Any:
        import io

        self._index(path)
        return io.BytesIO(self.content)

    def unlink(self, path: str) -> None:
        index = self._index(path)
        self.deleted[index >> 3] |= 1 << (index & 7)

    def fsync_dir(self, path: str) -> None:
        return None

    def is_dir(self, path: str) -> bool:
        return path == self.root

    def exists(self, path: str) -> bool:
        try:
            self._index(path)
        except FileNotFoundError:
            return path == self.root
        return True

    def disk_usage(self, path: str) -> DiskUsage:
        return DiskUsage(1 << 40, 1 << 39)


def rss_mb() -> float:
    """Resident set size now (Linux ``/proc/self/statm``), in MB."""
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    """This process image's peak RSS (``VmHWM``; unlike ``ru_maxrss`` it is not inherited
    from the parent across fork and exec), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("no VmHWM in /proc/self/status")


class SamplingTransport(DirectTransport):
    """Acknowledges without storing, and samples the process's RSS as files go by."""

    def __init__(self, every: int) -> None:
        super().__init__(None)
        self.every = every
        self.samples: list[float] = []

    async def data_capture_upload(
        self, request: DataCaptureRequest, *, key: str
    ) -> DataCaptureUploadResponse:
        if self.requests % self.every == 0:
            self.samples.append(round(rss_mb(), 1))
        return await super().data_capture_upload(request, key=key)


def backlog_child(count: int, threads: int) -> dict[str, Any]:
    """Sync a backlog of ``count`` generated files; runs in a fresh process (clean RSS)."""
    content = tabular_file_bytes("fleet", 3)
    kernel = SimKernel(epoch_ns=EPOCH_NS)
    rt = kernel.process("bench")
    fs = GeneratedFS("/capture", count, content, EPOCH_NS)
    transport = SamplingTransport(every=max(1, count // 20))
    engine = make_engine(rt, fs, transport, "/capture", threads)
    before = rss_mb()
    started = time.perf_counter()

    async def run() -> int:
        engine.start()
        report = await engine.sync_now()
        await engine.close()
        return report.uploaded

    uploaded = kernel.run_main(run())
    elapsed = time.perf_counter() - started
    if uploaded != count:
        raise RuntimeError(f"backlog: uploaded {uploaded} of {count}")
    peak = peak_rss_mb()
    return {
        "files": count,
        "seconds": round(elapsed, 1),
        "files_per_s": round(count / elapsed, 1),
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_growth_mb": round(max(0.0, max([*transport.samples, peak]) - before), 1),
        "rss_samples_mb": transport.samples,
    }


def bench_backlog_memory(count: int, threads: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--backlog-child", str(count), "--threads", str(threads)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100_000, help="tiny files (100000)")
    parser.add_argument("--binary-mb", type=int, default=64, help="large payload, MB (64)")
    parser.add_argument("--repeats", type=int, default=3, help="large-binary repeats (3)")
    parser.add_argument("--backlog", type=int, default=1_000_000, help="backlog files (1e6)")
    parser.add_argument("--threads", type=int, default=2, help="sync workers (2)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--backlog-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.backlog_child is not None:
        print(json.dumps(backlog_child(args.backlog_child, args.threads)))
        return 0
    results: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("tiny_files", lambda: bench_tiny_files(args.files, args.threads)),
        ("large_binary", lambda: bench_large_binary(args.binary_mb, args.repeats)),
        ("backlog_small", lambda: bench_backlog_memory(max(1, args.backlog // 10), args.threads)),
        ("backlog", lambda: bench_backlog_memory(args.backlog, args.threads)),
    ]
    for name, step in steps:
        results[name] = step()
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    small, big, large = results["backlog_small"], results["backlog"], results["large_binary"]
    print(
        f"tiny-file sync rate: {results['tiny_files']['files_per_s']} files/s; "
        f"large binary sync/raw throughput ratio: {large['ratio']} (target >= 0.5; in-process, "
        f"without gRPC: {large['in_process_ratio']}, so gRPC takes "
        f"{large['grpc_share_of_sync']:.0%} of the sync time); "
        f"backlog peak RSS: {big['rss_peak_mb']} MB for {big['files']} files "
        f"(grew {big['rss_growth_mb']} MB while syncing) vs {small['rss_peak_mb']} MB for "
        f"{small['files']} (target: flat, under 200 MB)"
    )
    print(json.dumps(results, sort_keys=True))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
