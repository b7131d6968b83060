"""Capture-writer throughput against a raw append of the same bytes on the same disk.

Run ``python bench/bench_storage.py`` (``--help`` for sizes). Both sides run in the same
process, on the same filesystem (a temporary directory under ``--dir``), back to back in each
round, taking turns to go first. The ratio is the median of the rounds' ratios: a shared VM's
speed drifts by tens of percent within a minute, and a pair measured seconds apart sees the
same machine, where the best of each side may come from different moments.

- **writer**: ``CaptureWriter`` with the defaults (1 s durability window, 256 KiB rotation,
  4 KiB buffer, so files are rotated with flush → fsync → rename → directory fsync) writing N
  pre-built tabular ``SensorData`` (tens to a hundred bytes is typical of a tabular reading),
  each with its reading identity. Serialization, framing, the identity, rotation and every
  fsync are on the clock; building the messages is not (a collector does that). ``--wide``
  uses a 14-value IMU reading instead of the default 4-value environmental one.
- **raw**: the exact bytes the writer wrote to its files (header and records, encoded before
  the clock starts) appended to one file through the same ``RealFS`` port, one ``write`` per
  record, one fsync at the end. A second baseline appends them in 64 KiB writes.

Throughput ratio = raw time / writer time (target ≥ 0.5 against the per-record append). Prints
one line per round and per figure and, last, a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from viam.proto.app.datasync import DataType, SensorData

from dmsim.storage._codec import encode_sensor_data, serialize_deterministic, tabular_reading
from dmsim.storage._identity import IdentityEncoder, ReadingId
from dmsim.storage._naming import CollectorKey
from dmsim.storage._realfs import RealFS
from dmsim.storage._writer import CaptureWriter

TARGET = 0.5
KEY = CollectorKey.of("rdk:component:sensor", "env-1", "Readings")


def values(i: int, *, wide: bool) -> dict[str, Any]:
    if not wide:  # an environmental sensor (BME280-like): four values, ~110 B on disk
        return {
            "temperature_c": 21.5 + (i % 10) / 10,
            "humidity_pct": 40.0 + (i % 7),
            "pressure_hpa": 1013.25 - (i % 5) / 4,
            "ok": True,
        }
    return {  # an IMU: twelve nested values and two strings, ~370 B on disk
        "readings": {
            "linear_acceleration": {"x": 0.01 * i, "y": -9.81, "z": 0.002 * (i % 50)},
            "angular_velocity": {"x": 0.1, "y": 0.2 * (i % 7), "z": -0.3},
            "temperature_c": 21.5 + (i % 10) / 10,
            "orientation": {"roll": 1.5, "pitch": -0.25, "yaw": i % 360},
            "status": "ok",
            "frame": "imu_link",
        }
    }


def readings(n: int, *, wide: bool = False) -> list[tuple[SensorData, ReadingId]]:
    base = 1_700_000_000 * 10**9
    out = []
    for i in range(n):
        ns = base + i * 10_000_000
        reading = tabular_reading(
            values(i, wide=wide), time_requested_ns=ns, time_received_ns=ns + 150_000
        )
        out.append((reading, ReadingId("env-1/Readings", 1, i)))
    return out


def run_writer(root: Path, batch: list[tuple[SensorData, ReadingId]]) -> tuple[float, Any]:
    writer = CaptureWriter(
        RealFS(),
        capture_dir=str(root),
        key=KEY,
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=time.monotonic,
        wall_ns=time.time_ns,
        file_extension=".dat",
    )
    write = writer.write
    start = time.perf_counter()
    for reading, rid in batch:
        write(reading, reading_id=rid)
    writer.close()
    return time.perf_counter() - start, writer.statistics()


def written_bytes(root: Path) -> list[bytes]:
    """The writer's files as records: header once per file, then each record, in order."""
    files = sorted(root.rglob("*.capture"))
    chunks: list[bytes] = []
    for path in files:
        chunks.append(path.read_bytes())
    return chunks


def run_raw(path: Path, chunks: Sequence[bytes]) -> float:
    fs = RealFS()
    handle = fs.open_append(str(path))
    write = handle.write
    start = time.perf_counter()
    for chunk in chunks:
        write(chunk)
    handle.fsync()
    elapsed = time.perf_counter() - start
    handle.close()
    return elapsed


def record_chunks(batch: list[tuple[SensorData, ReadingId]], files: list[bytes]) -> list[bytes]:
    """Split the writer's bytes at record boundaries (headers stay with their first record)."""
    records = [encode_sensor_data(reading, rid) for reading, rid in batch]
    assert sum(map(len, records)) <= sum(map(len, files))
    out: list[bytes] = []
    pos = 0
    blob = b"".join(files)
    for record in records:
        end = blob.index(record, pos) + len(record)
        out.append(blob[pos:end])
        pos = end
    assert pos == len(blob), "raw bytes must equal the writer's bytes"
    return out


def run_encode_only(batch: list[tuple[SensorData, ReadingId]]) -> float:
    """Serialization, identity and framing alone: the floor any writer of this format pays."""
    encoder = IdentityEncoder(batch[0][1].stream, batch[0][1].boot)
    start = time.perf_counter()
    for reading, rid in batch:
        encoder.frame(serialize_deterministic(reading), rid.seq)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--readings", type=int, default=100_000, help="readings per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (median ratio kept)")
    parser.add_argument("--dir", default=None, help="directory on the disk to measure")
    parser.add_argument("--wide", action="store_true", help="14-value IMU readings (~370 B)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    batch = readings(args.readings, wide=args.wide)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="dmsim-bench-") as tmp:
        base = Path(tmp)
        _, stats = run_writer(base / "warm-up", batch)  # and the bytes the raw side appends
        files = written_bytes(base / "warm-up")
        chunks = record_chunks(batch, files)
        blob = b"".join(files)
        big = [blob[j : j + 65536] for j in range(0, len(blob), 65536)]
        writer_times: list[float] = []
        raw_times: list[float] = []
        buffered_times: list[float] = []
        encode_times: list[float] = []
        for i in range(args.rounds):
            root = base / f"w{i}"
            if i % 2:
                raw_times.append(run_raw(base / f"raw{i}.bin", chunks))
            elapsed, stats = run_writer(root, batch)
            writer_times.append(elapsed)
            if not i % 2:
                raw_times.append(run_raw(base / f"raw{i}.bin", chunks))
            print(f"round {i + 1}/{args.rounds}: writer {elapsed / args.readings * 1e6:.2f} "
                  f"µs/reading, ratio {raw_times[-1] / elapsed:.3f}", flush=True)  # fmt: skip
            buffered_times.append(run_raw(base / f"buf{i}.bin", big))
            encode_times.append(run_encode_only(batch))
            for path in root.rglob("*.capture"):
                path.unlink()
            for name in (f"raw{i}.bin", f"buf{i}.bin"):
                os.unlink(base / name)
        total = sum(map(len, files))
        ratios = [raw / writer for raw, writer in zip(raw_times, writer_times, strict=True)]
        buffered_ratios = [
            raw / writer for raw, writer in zip(buffered_times, writer_times, strict=True)
        ]
        writer_t, raw_t, buffered_t = (statistics.median(t) for t in
                                       (writer_times, raw_times, buffered_times))  # fmt: skip
        encode_t = min(encode_times)
    figures = {
        "readings": args.readings,
        "bytes": total,
        "bytes_per_reading": round(total / args.readings, 1),
        "writer_s": round(writer_t, 4),
        "writer_mb_s": round(total / writer_t / 1e6, 2),
        "writer_us_per_reading": round(writer_t / args.readings * 1e6, 2),
        "raw_per_record_s": round(raw_t, 4),
        "raw_per_record_mb_s": round(total / raw_t / 1e6, 2),
        "raw_64k_s": round(buffered_t, 4),
        "raw_64k_mb_s": round(total / buffered_t / 1e6, 2),
        "encode_only_us_per_reading": round(encode_t / args.readings * 1e6, 2),
        "ratio_vs_raw_per_record": round(statistics.median(ratios), 3),
        "ratio_vs_raw_per_record_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "ratio_vs_raw_64k": round(statistics.median(buffered_ratios), 3),
        "rounds": args.rounds,
        "files": stats.files_closed,
        "fsyncs": stats.fsyncs,
        "dir_fsyncs": stats.dir_fsyncs,
        "target": TARGET,
        "reading_shape": "imu-14-values" if args.wide else "env-4-values",
    }
    ratio = figures["ratio_vs_raw_per_record"]
    print(f"writer: {figures['writer_mb_s']} MB/s ({figures['writer_us_per_reading']} µs/reading, "
          f"{figures['bytes_per_reading']} B/reading, {stats.files_closed} files, "
          f"{stats.fsyncs} fsyncs)")  # fmt: skip
    print(f"encoding alone (serialize, identity, frame): "
          f"{figures['encode_only_us_per_reading']} µs/reading")  # fmt: skip
    print(f"raw append, one write per record: {figures['raw_per_record_mb_s']} MB/s")
    print(f"raw append, 64 KiB writes: {figures['raw_64k_mb_s']} MB/s")
    verdict = "meets" if ratio >= TARGET else "BELOW"
    low, high = figures["ratio_vs_raw_per_record_range"]
    print(f"ratio writer/raw: {ratio}, median of {args.rounds} rounds (range {low}-{high}; "
          f"{verdict} target {TARGET}); vs 64 KiB raw: {figures['ratio_vs_raw_64k']}")  # fmt: skip
    print(json.dumps(figures, sort_keys=True))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
