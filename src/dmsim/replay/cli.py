"""``dmsim replay CAPTURE_DIR --out DIR [--run]``: a field capture directory → a scenario."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from dmsim.errors import Problem, ScenarioError
from dmsim.faults import parse_duration, parse_size
from dmsim.net import PROFILES
from dmsim.scenario.cli import check_writable, seed_arg, show_report

from ._build import ReplayOptions, build_replay, describe, plan_lines
from ._snapshot import read_snapshot

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="turn a field device's capture directory into a scenario, and run it",
        description=(
            "Read a capture directory copied off a device (.capture, .prog, failed/), print "
            "what it holds, and write a scenario directory that preloads it byte for byte "
            "into the simulated disk: `dmsim run` then shows what sync does with that "
            "backlog, reading by reading; `dmsim fuzz` searches the faults around it."
        ),
    )
    parser.add_argument("capture_dir", type=Path, metavar="CAPTURE_DIR")
    parser.add_argument("--out", "-o", type=Path, required=True, help="new scenario directory")
    parser.add_argument("--config", type=Path, help="the device's machine config JSON")
    parser.add_argument(
        "--connectivity", type=Path, help="the device's link log (.csv/.json), from time 0"
    )
    parser.add_argument(
        "--events",
        type=Path,
        help="the device's event log (dmsim machine --events): its failures become faults",
    )
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default="lan", help="base link profile (lan)"
    )
    parser.add_argument("--name", help="scenario name (default: replay-<directory name>)")
    parser.add_argument("--seed", type=seed_arg, default=0, help="scenario seed (0)")
    parser.add_argument(
        "--duration", help="simulated time (default: the longer log's length + 10 min, or 1h)"
    )
    parser.add_argument(
        "--drain-within",
        help="the backlog must reach the cloud within this (default: half the run)",
    )
    parser.add_argument("--disk-capacity", default="32GiB", help="the device's disk size")
    parser.add_argument("--disk-free", help="free space df showed on the device")
    parser.add_argument("--no-capture", action="store_true", help="replay the backlog's sync only")
    parser.add_argument("--run", action="store_true", help="run the scenario now")
    parser.add_argument("--json", type=Path, metavar="REPORT", help="with --run: JSON report")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="with --run: timeline plot")
    parser.set_defaults(handler=_replay)


def _duration(value: str | None, option: str) -> float | None:
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds is None or seconds <= 0:
        raise ScenarioError(Problem(option, f"expected a duration like 90s or 2h, got {value!r}"))
    return seconds


def _size(value: str | None, option: str, *, minimum: int) -> int | None:
    if value is None:
        return None
    size = parse_size(value)
    if size is None or size < minimum:
        raise ScenarioError(Problem(option, f"expected a size like 512MiB or 32GB, got {value!r}"))
    return size


def _name(args: argparse.Namespace) -> str:
    if args.name is not None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.name):
            raise ScenarioError(
                Problem("--name", f"letters, digits, '_', '.', '-' only, got {args.name!r}")
            )
        return str(args.name)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", args.capture_dir.resolve().name).strip("-.")
    return f"replay-{stem or 'capture'}"


def _replay(args: argparse.Namespace) -> int:
    if (args.json or args.plot) and not args.run:
        raise ScenarioError(Problem("--json/--plot", "only with --run"))
    check_writable(args.json, "--json")
    check_writable(args.plot, "--plot")
    for option, path in (
        ("--config", args.config),
        ("--connectivity", args.connectivity),
        ("--events", args.events),
    ):
        if path is not None and not path.is_file():
            raise ScenarioError(Problem(option, f"{path} is not a file"))
    options = ReplayOptions(
        name=_name(args),
        seed=args.seed,
        config=args.config,
        connectivity=args.connectivity,
        events=args.events,
        profile=args.profile,
        duration_s=_duration(args.duration, "--duration"),
        drain_within_s=_duration(args.drain_within, "--drain-within"),
        disk_capacity_bytes=_size(args.disk_capacity, "--disk-capacity", minimum=1) or 0,
        disk_free_bytes=_size(args.disk_free, "--disk-free", minimum=0),
        capture=not args.no_capture,
    )
    snapshot = read_snapshot(args.capture_dir)
    for line in describe(snapshot):
        print(line)
    plan = build_replay(snapshot, options, args.out)
    for line in plan_lines(plan, options):
        print(line)
    if not args.run:
        print(f"run it: dmsim run {plan.scenario_path}")
        return 0
    from dmsim.scenario import run_scenario

    sys.stdout.flush()  # the snapshot's lines before the run's progress on stderr
    report = run_scenario(plan.scenario_path, progress=True)
    return show_report(report, json_path=args.json, plot_path=args.plot)
