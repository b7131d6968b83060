"""``dmsim simulate CONFIG --duration D --seed S --out DIR [--json]``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from dmsim.config import load_machine_config
from dmsim.errors import ConfigError, Problem
from dmsim.faults import parse_duration

from ._machine import tick_budget_problem
from ._model import SIM_ENV
from ._runner import ProgressLine
from ._simulate import SimulationSummary, simulate_machine

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run a machine config on simulated devices and simulated time",
        description=(
            "Run a Viam machine config on simulated devices and simulated time (no faults), "
            "syncing to the embedded fake cloud when the config enables sync, and write the "
            "capture directory to --out. A collector first captures one period after start (as "
            "rdk), so it captures frequency x duration readings, or one fewer when its last "
            "tick falls exactly at the end (a GetImages tick can hold several images)."
        ),
    )
    parser.add_argument("config", type=Path, help="machine config JSON")
    parser.add_argument("--duration", required=True, help="simulated duration: 90s, 10m, 24h")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="directory for capture files")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    duration = parse_duration(args.duration)
    if duration is None or duration <= 0:
        raise ConfigError(
            Problem(
                "--duration",
                f"expected a positive duration like 90s, 10m or 24h, got {args.duration!r}",
            )
        )
    text = _read(args.config)
    machine = load_machine_config(args.config, env=SIM_ENV, cpu_count=4)
    if machine.data_manager is None:
        raise ConfigError(
            Problem("services", "no data_manager service: nothing to capture or sync"),
            source=str(args.config),
        )
    too_busy = tick_budget_problem(machine, duration)
    if too_busy is not None:
        raise ConfigError(too_busy, source=str(args.config))
    _prepare_out(args.out)
    for warning in machine.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    manager = machine.data_manager
    if manager is not None and manager.mongo_capture_config.enabled:
        print(
            "warning: mongo_capture_config is not simulated: readings go to capture files only",
            file=sys.stderr,
        )
    progress = None
    if not args.quiet:
        progress = ProgressLine(
            label=f"simulate {args.config.stem}",
            sim_seconds=duration,
            stream=sys.stderr,
            wall_clock=time.perf_counter,
        )
    summary = simulate_machine(
        machine,
        json.loads(text),
        duration_s=duration,
        seed=args.seed,
        out_dir=args.out,
        name=args.config.stem,
        progress=progress,
    )
    if progress is not None:
        progress.finish()
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        print(_table(summary))
    return 0


def _prepare_out(out: Path) -> None:
    """Make ``--out`` up front, so a long run never fails at its very end."""
    if out.exists() and not out.is_dir():
        raise ConfigError(Problem("--out", f"{out} exists and is not a directory"))
    try:
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            raise ConfigError(Problem("--out", f"{out} exists and is not empty"))
    except OSError as error:
        raise ConfigError(
            Problem("--out", f"{out}: cannot create it: {error.strerror or error}")
        ) from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(Problem(str(path), f"cannot read: {error}")) from None


def _table(summary: SimulationSummary) -> str:
    rows = [("component", "method", "params", "Hz", "captured", "skipped", "files")]
    for c in summary.collectors:
        params = ",".join(f"{k}={v}" for k, v in sorted(c["additional_params"].items()))
        rows.append((
            c["component"], c["method"], params or "-", f"{c['frequency_hz']:g}",
            f"{c['captured']:,}", f"{c['skipped']:,}", f"{c['files_written']:,}",
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    for idle in summary.not_capturing:
        params = ",".join(f"{k}={v}" for k, v in sorted(idle["additional_params"].items()))
        lines.append(
            f"not capturing: {idle['component']} {idle['method']}"
            f"{' ' + params if params else ''} ({idle['reason']})"
        )
    lines += [
        "",
        f"simulated {summary.duration_s:g}s with seed {summary.seed}",
        f"uploaded files {summary.uploaded_files:,}   cloud readings {summary.cloud_readings:,}"
        f"   duplicates in cloud {summary.duplicates_in_cloud:,}"
        f"   files remaining {summary.files_remaining:,} (in {summary.out_dir})",
    ]
    return "\n".join(lines)
