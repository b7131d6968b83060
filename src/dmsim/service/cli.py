"""``dmsim machine CONFIG --cloud HOST:PORT``: run the data manager for real."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dmsim.config import MachineConfig, load_machine_config, state_dir
from dmsim.errors import ConfigError, Problem, StorageError
from dmsim.faults import parse_duration
from dmsim.runtime import RealRuntime

from ._events import EventLog, machine_trace
from ._machine import MachineStatus, machine_devices, run_machine
from ._reload import ConfigFile, Device, DeviceBuild, DeviceKey, Devices, Reload, close_devices
from ._status_file import StatusFile

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "machine",
        help="run the data manager for real: wall clock, this disk, a DataSyncService",
        description=(
            "Capture from the machine config's resources into its capture_dir and sync to a "
            "DataSyncService over gRPC, until interrupted (SIGINT/SIGTERM: clean shutdown, "
            "queues drained, files completed) or --duration. SIGUSR1 syncs now, as Viam's "
            "Sync(), whatever the interval, and prints what went and what waits; SIGHUP "
            "checks the config file for edits now. The capture directories the part "
            "used are recorded in $VIAM_HOME/dmsim (default ~/.viam/dmsim), so that a backlog "
            "left in one the config no longer names is still synced."
        ),
    )
    parser.add_argument("config", type=Path, help="machine config JSON")
    parser.add_argument("--cloud", required=True, help="DataSyncService address HOST:PORT")
    parser.add_argument("--tls-cert", type=Path, help="trust this certificate (enables TLS)")
    parser.add_argument("--api-key", help="API key sent with every upload")
    parser.add_argument("--part-id", default="local-part", help="part id for uploads")
    parser.add_argument(
        "--devices",
        choices=("sim", "real"),
        default="sim",
        help="simulated devices on the real clock (default) or hardware drivers",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for simulated devices (sync's backoff jitter always comes from the OS)",
    )
    parser.add_argument("--duration", help="stop after this long (90s, 10m); default: run on")
    parser.add_argument("--status-every", default="10s", help="progress line interval")
    parser.add_argument(
        "--status-file",
        type=Path,
        metavar="FILE",
        help="keep the whole status (as DoCommand status: counters, capture directories, "
        "what the disk has not written yet) in FILE as JSON, rewritten at each progress line; "
        "put it on a tmpfs such as /run",
    )
    parser.add_argument(
        "--events",
        type=Path,
        metavar="FILE",
        help="append the machine's events (starts, upload attempts and their errors, pauses, "
        "quarantines, recovery) as JSON lines, for `dmsim replay --events`",
    )
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="FILE",
        help="append every event, each captured reading included, as JSON lines: what "
        "`dmsim judge` checks reading by reading against the cloud",
    )
    parser.set_defaults(handler=_machine)


def _duration(value: str, option: str) -> float:
    seconds = parse_duration(value)
    if seconds is None or seconds <= 0:
        raise ConfigError(Problem(option, f"expected a duration like 90s or 10m, got {value!r}"))
    return seconds


def _machine(args: argparse.Namespace) -> int:
    host, _, port = args.cloud.rpartition(":")
    if not host or not port.isdecimal():
        raise ConfigError(Problem("--cloud", f"expected HOST:PORT, got {args.cloud!r}"))
    if not 1 <= int(port) <= 65535:
        raise ConfigError(Problem("--cloud", f"port must be in 1..65535, got {int(port)}"))
    status_every = _duration(args.status_every, "--status-every")
    duration = _duration(args.duration, "--duration") if args.duration else None
    status_file = StatusFile(args.status_file) if args.status_file is not None else None
    machine = load_machine_config(args.config)
    for warning in machine.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from dmsim.cloud import GrpcTransport
    from dmsim.storage import RealFS
    from dmsim.storage._lock import directory_lock

    rt = RealRuntime()
    trace = machine_trace(rt.wall_ns) if args.events or args.trace else None
    logs = [
        EventLog(path, trace=trace, full=full, monotonic=rt.monotonic, option=option)
        for path, full, option in ((args.events, False, "--events"), (args.trace, True, "--trace"))
        if path is not None and trace is not None
    ]

    claimed: list[str] = []  # capture directories locked, the first one's and each reload's
    held = contextlib.ExitStack()

    def claim(directory: str, purpose: str = "start another machine") -> None:
        if directory in claimed:  # ours since a move away: a second lock would refuse us
            return
        held.enter_context(directory_lock(directory, purpose=purpose))
        claimed.append(directory)

    def to_stderr(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    async def devices_for(config: MachineConfig, live: Devices) -> DeviceBuild:
        return await machine_devices(
            config, rt=rt, real=args.devices == "real", seed=args.seed, live=live
        )

    async def main() -> MachineStatus:
        stop, check_config, sync_asked = rt.event(), rt.event(), rt.event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        loop.add_signal_handler(signal.SIGHUP, check_config.set)  # the daemon convention
        loop.add_signal_handler(signal.SIGUSR1, sync_asked.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        # The running devices, kept current by reload; simulated ones find each other here.
        devices: dict[DeviceKey, Device] = {}
        devices.update(await _all_built(await devices_for(machine, devices), to_stderr))
        transport = GrpcTransport(
            host=host, port=int(port), cert_path=args.tls_cert, api_key=args.api_key
        )
        return await run_machine(
            machine,
            rt=rt,
            fs=RealFS(),
            devices=devices,
            transport=transport,
            part_id=args.part_id,
            state_dir=state_dir(os.environ),
            claim_dir=lambda directory: claim(directory, "sync it as a former capture directory"),
            stop=stop,
            status_every_s=status_every,
            report=lambda status: print(status.line(), flush=True),
            trace=trace,
            reload=Reload(
                config=ConfigFile(Path(args.config), machine),
                build_devices=devices_for,
                claim_dir=lambda directory: claim(directory, "move a capture directory there"),
                notify=to_stderr,
                check_now=check_config,
            ),
            publish=status_file.write if status_file is not None else None,
            sync_asked=sync_asked,
            say=lambda line: print(line, flush=True),
        )

    manager = machine.data_manager
    with held:
        for log in logs:
            held.callback(log.close)
        if manager is not None:  # else run_machine explains that there is nothing to run
            try:
                claim(manager.capture_dir)
            except OSError as error:  # cannot make it (a busy one is a DirectoryBusy)
                reason = error.strerror or str(error)
                raise ConfigError(
                    Problem("capture_dir", f"{manager.capture_dir}: {reason}")
                ) from None
        final = rt.run_main(main())
    print(f"stopped cleanly: {final.line()}")
    for directory in claimed:
        print(_left_to_sync(directory))
    return 0


async def _all_built(build: DeviceBuild, report: Callable[[str], None]) -> dict[DeviceKey, Device]:
    """The devices a machine starts with; if any could not be built, those that were are
    closed and the failures raised (the first; the others reported)."""
    if not build.failed:
        return build.devices
    await close_devices(build.devices, report)
    first, *others = dict.fromkeys(build.failed.values())  # simulated ones fail as a set
    for error in others:
        report(f"error: {error}")
    raise first


def _left_to_sync(capture_dir: str) -> str:
    """What the next start will pick up: completed files not yet uploaded, and quarantine."""
    from dmsim.storage import RealFS
    from dmsim.storage._inspect import capture_files
    from dmsim.storage._sequences import CLOSED_SUFFIX, SEQUENCES_DIR

    fs = RealFS()
    try:
        listing = capture_files(fs, capture_dir)
    except StorageError as error:
        return f"left to sync: unknown ({error})"
    waiting = [path for path in listing.files if path.endswith(".capture")]
    size = 0
    for path in waiting:
        with contextlib.suppress(OSError):  # uploaded and deleted by a late worker: not left
            size += fs.stat(path).size
    line = f"left to sync in {capture_dir}: {len(waiting):,} capture file(s), {size / 1e6:.1f} MB"
    if open_files := len(listing.files) - len(waiting):
        line += f"; {open_files:,} .prog file(s) for recovery at the next start"
    sequences_dir = f"{capture_dir}/{SEQUENCES_DIR}"
    with contextlib.suppress(OSError):
        if sequences := sum(n.endswith(CLOSED_SUFFIX) for n in fs.listdir(sequences_dir)):
            line += f"; {sequences:,} closed sequence(s)"
    if listing.quarantined:
        line += f"; {listing.quarantined:,} in failed/ (each with a .reason file)"
    return line
