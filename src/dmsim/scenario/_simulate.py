"""``dmsim simulate``: run a machine config on simulated devices and simulated time.

No faults: the machine captures for the duration (and syncs to the embedded fake cloud when its
config enables sync), then shuts down cleanly so every file is complete. The simulated capture
directory is then written out to a real directory, so the same seed gives a byte-identical
directory.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmsim.capture import stream_id
from dmsim.config import MachineConfig, collector_specs
from dmsim.runtime import TraceEvent
from dmsim.storage._fs import FileSystem

from ._model import Scenario
from ._world import World

__all__ = ["SimulationSummary", "simulate_machine"]


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    seed: int
    duration_s: float
    collectors: tuple[dict[str, Any], ...]
    not_capturing: tuple[dict[str, Any], ...]  # configured methods that run no collector
    uploaded_files: int
    cloud_readings: int
    duplicates_in_cloud: int
    files_remaining: int
    out_dir: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "duration_s": self.duration_s,
            "collectors": list(self.collectors),
            "not_capturing": list(self.not_capturing),
            "uploaded_files": self.uploaded_files,
            "cloud_readings": self.cloud_readings,
            "duplicates_in_cloud": self.duplicates_in_cloud,
            "files_remaining": self.files_remaining,
            "out_dir": self.out_dir,
        }


def simulate_machine(
    machine: MachineConfig,
    document: dict[str, Any],
    *,
    duration_s: float,
    seed: int,
    out_dir: Path,
    name: str = "simulate",
    progress: Callable[[float], None] | None = None,
) -> SimulationSummary:
    scenario = Scenario(
        name=name, machine=machine, machine_document=document, duration_s=duration_s, seed=seed
    )
    world = World(scenario, seed=seed, final_drain=False, keep_events=False)
    tally = _Tally()
    world.trace.subscribe(tally.see)
    world.run(progress=progress)
    collectors = tuple(_collector_rows(world, tally))
    capture_dir = machine.data_manager.capture_dir if machine.data_manager else "/"
    remaining = _export(world.fs, capture_dir, out_dir)
    return SimulationSummary(
        seed=seed,
        duration_s=duration_s,
        collectors=collectors,
        not_capturing=tuple(_idle_methods(machine)),
        uploaded_files=world.trace.count("sync.deleted"),
        cloud_readings=tally.cloud_readings,
        duplicates_in_cloud=tally.duplicates,
        files_remaining=remaining,
        out_dir=str(out_dir),
    )


class _Tally:
    """The summary's counts, taken from trace events as they happen (none is kept): each
    stream's collector as it last ran, files per stream, and each reading stored in the cloud
    as one bit per (stream, boot, seq)."""

    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self.files_by_stream: Counter[str] = Counter()
        self.cloud_readings = 0
        self.duplicates = 0
        self._stored: dict[tuple[str, int], bytearray] = {}

    def see(self, event: TraceEvent) -> None:
        if event.kind in ("capture.started", "capture.rate_changed"):
            fields = event.fields
            self.started[fields["stream"]] = {
                "component": fields["component"],
                "api": fields["api"],
                "method": fields["method"],
                "additional_params": fields["params"],
                "frequency_hz": fields["hz"],
            }
        elif event.kind == "file.completed" and event.fields["ids"]:
            self.files_by_stream[_stream_of(event.fields["ids"])] += 1
        elif event.kind == "cloud.stored" and not event.fields["duplicate_key"]:
            fields = event.fields
            bits = self._stored.setdefault((fields["stream"], fields["boot"]), bytearray())
            seq = fields["seq"]
            byte, mask = seq >> 3, 1 << (seq & 7)
            if byte >= len(bits):
                bits.extend(bytes(byte + 1 - len(bits)))
            self.cloud_readings += 1  # rows in the cloud, a duplicate included
            if bits[byte] & mask:
                self.duplicates += 1
            bits[byte] |= mask


def _idle_methods(machine: MachineConfig) -> list[dict[str, Any]]:
    """Configured capture methods that run no collector, each with the reason."""
    manager = machine.data_manager
    switched_off = manager is not None and manager.capture_disabled
    rows = []
    for method in machine.capture_methods():
        if method.enabled and not switched_off:
            continue
        if switched_off:
            reason = "capture_disabled"
        elif method.capture_frequency_hz <= 0:
            reason = f"frequency {method.capture_frequency_hz:g} Hz"
        else:
            reason = "disabled"
        rows.append({
            "component": method.resource.short_name,
            "api": method.resource.api,
            "method": method.method,
            "additional_params": dict(method.additional_params),
            "reason": reason,
        })  # fmt: skip
    return rows


def _stream_of(ids: list[list[Any]]) -> str:
    return str(ids[0][0])


def _collector_rows(world: World, tally: _Tally) -> list[dict[str, Any]]:
    """One row per stream: the configured collectors in config order, then those a capture
    control sensor enabled; counts add up every collector that ran for the stream (a tag
    change restarts one)."""
    totals: dict[str, dict[str, Any]] = {}
    for stats in world.final_collectors:
        total = totals.setdefault(stats.stream, {"captured": 0, "skipped": Counter()})
        total["captured"] += stats.captured
        total["skipped"].update(stats.skipped)
    rows = {}
    for spec in collector_specs(world.machine):
        ref = spec.resource
        rows[stream_id(spec)] = {
            "component": ref.short_name,
            "api": ref.api,
            "method": spec.method,
            "additional_params": dict(spec.additional_params),
            "frequency_hz": spec.capture_frequency_hz,
        }
    for stream, started in tally.started.items():
        rows.setdefault(stream, dict(started))
    for stream, row in rows.items():
        total = totals.get(stream, {"captured": 0, "skipped": Counter()})
        row["captured"] = total["captured"]
        row["skipped"] = total["skipped"].total()
        row["skipped_by_reason"] = dict(total["skipped"])
        row["files_written"] = tally.files_by_stream.get(stream, 0)
    return list(rows.values())


def _export(fs: FileSystem, capture_dir: str, out_dir: Path) -> int:
    """Copy the simulated capture directory to ``out_dir``; return how many files it held."""
    count = 0
    if not fs.exists(capture_dir):
        return 0
    for dirpath, _dirnames, filenames in fs.walk(capture_dir):
        relative = os.path.relpath(dirpath, capture_dir)
        target_dir = out_dir / relative
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            handle = fs.open_read(f"{dirpath}/{name}")
            try:
                (target_dir / name).write_bytes(handle.read())
            finally:
                handle.close()
            count += 1
    return count
