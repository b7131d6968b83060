"""Memory of a long `dmsim simulate`: peak RSS of a short and a long run of the same machine,
and the growth per simulated hour between them.

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

from dmsim.faults import parse_duration

ROOT = Path(__file__).resolve().parents[1]
MACHINE = ROOT / "scenarios" / "machines" / "camera-and-sensor.json"


def peak_rss_mb(config: Path, duration: str) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one `dmsim simulate` run."""
    with tempfile.TemporaryDirectory(prefix="dmsim-bench-") as out:
        dmsim = Path(sys.executable).with_name("dmsim")  # the venv's entry point
        command = [str(dmsim), "simulate", str(config), "--duration", duration, "--out", out,
                   "--quiet"]  # fmt: skip
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"dmsim simulate {config} --duration {duration}: exit {child.returncode}")
    return usage.ru_maxrss / 1024, elapsed  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=MACHINE, help="machine config JSON")
    parser.add_argument("--short", default="1h", help="the short run's simulated duration")
    parser.add_argument("--long", default="4h", help="the long run's simulated duration")
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
        peaks[label], wall = peak_rss_mb(args.config, duration)
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
    print(json.dumps(figures, sort_keys=True))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
