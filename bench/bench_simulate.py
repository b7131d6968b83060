"""Memory of a long `dmsim simulate`: peak RSS of a short and a long run of the same machine,
and the growth per simulated hour between them; and simulation speed: how many times faster
than real time a busy robot (50 Hz IMU on three methods, a 10 Hz arm, a 1 Hz camera, syncing)
simulates, and its readings per wall second, start-up included.

Each run is its own `dmsim simulate` process (camera-and-sensor by default: a 2 Hz camera and
a 1 Hz sensor syncing to the embedded cloud), so each peak is that run's alone. What a run
keeps should not grow with simulated time: the embedded cloud keeps blob digests rather than
images and its database spills to a temporary file, and the transport keeps its latest
attempts only. What still grows per uploaded file (each blob's digest, each landed key) is
what the growth figure shows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dmsim.faults import parse_duration

ROOT = Path(__file__).resolve().parents[1]
MACHINE = ROOT / "scenarios" / "machines" / "camera-and-sensor.json"
ROBOT = ROOT / "scenarios" / "machines" / "imu-arm-camera.json"


def simulate(config: Path, duration: str) -> tuple[float, float, dict[str, Any]]:
    """(peak RSS in MB, wall seconds, JSON summary) of one `dmsim simulate` run."""
    with tempfile.TemporaryDirectory(prefix="dmsim-bench-") as out:
        dmsim = Path(sys.executable).with_name("dmsim")  # the venv's entry point
        command = [str(dmsim), "simulate", str(config), "--duration", duration, "--out", out,
                   "--quiet", "--json"]  # fmt: skip
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.PIPE)
        assert child.stdout is not None
        summary = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"dmsim simulate {config} --duration {duration}: exit {child.returncode}")
    return usage.ru_maxrss / 1024, elapsed, json.loads(summary)  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=MACHINE, help="machine config JSON")
    parser.add_argument("--short", default="1h", help="the short run's simulated duration")
    parser.add_argument("--long", default="4h", help="the long run's simulated duration")
    parser.add_argument("--speed", default="10m", help="the robot's simulated duration")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    hours: dict[str, float] = {}
    peaks: dict[str, float] = {}
    figures: dict[str, float | str] = {"config": args.config.name}
    for label, duration in (("short", args.short), ("long", args.long)):
        seconds = parse_duration(duration)
        if not seconds:
            parser.error(f"--{label}: not a duration: {duration!r}")
        print(f"simulating {duration} of {args.config.name} …", flush=True)
        peaks[label], wall, _ = simulate(args.config, duration)
        hours[label] = seconds / 3600
        figures |= {f"{label}_sim_hours": hours[label],
                    f"{label}_peak_rss_mb": round(peaks[label], 1),
                    f"{label}_wall_s": round(wall, 1)}  # fmt: skip
        print(f"  {duration}: peak RSS {peaks[label]:.1f} MB, {wall:.1f} s wall", flush=True)
    if hours["long"] <= hours["short"]:
        parser.error("--long must be longer than --short")
    growth = (peaks["long"] - peaks["short"]) / (hours["long"] - hours["short"])
    figures["growth_mb_per_sim_hour"] = round(growth, 2)
    print(f"growth: {growth:.2f} MB per simulated hour "
          f"(a simulated week would add {growth * 168:.0f} MB)")  # fmt: skip
    print(f"simulating {args.speed} of {ROBOT.name} …", flush=True)
    _, wall, summary = simulate(ROBOT, args.speed)
    readings = sum(c["captured"] for c in summary["collectors"])
    speed = summary["duration_s"] / wall
    figures |= {"robot_sim_s": summary["duration_s"], "robot_wall_s": round(wall, 1),
                "robot_readings": readings, "robot_times_real_time": round(speed, 1),
                "robot_readings_per_wall_s": round(readings / wall)}  # fmt: skip
    print(f"  {readings:,} readings in {wall:.1f} s wall: {speed:.1f}× real time, "
          f"{readings / wall:,.0f} readings per wall second (start-up included)")  # fmt: skip
    print(json.dumps(figures, sort_keys=True))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
