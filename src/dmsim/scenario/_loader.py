"""Loading a scenario file: YAML with line marks → schema check → typed :class:`Scenario`.

Every problem is collected and reported together in one :class:`~dmsim.errors.ScenarioError`,
each naming its YAML path and line, e.g. ``faults[3].at (line 27): expected a duration like
'90s', got '90 sec'``. Problems in a machine config loaded by path name that file and its own
line and column.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dmsim.config import MachineConfig, load_machine_config, parse_machine_config
from dmsim.errors import ConfigError, Problem, ScenarioError
from dmsim.faults import (
    KINDS,
    FaultSchedule,
    format_duration,
    format_size,
    parse_duration,
    parse_schedule,
    parse_size,
)

from ._envelope import envelope_from
from ._machine import (
    captured_methods,
    device_names,
    reconfigure_problems,
    simulation_problems,
    tick_budget_problem,
)
from ._model import (
    APPEND_EVERY_S,
    CLOCK_RANGE_NS,
    DEFAULT_EPOCH,
    FINAL_DRAIN_S,
    SIM_ENV,
    CloudSpec,
    CountBound,
    DiskSpec,
    Expectations,
    FileWriterSpec,
    HostSpec,
    NetworkSpec,
    Scenario,
)
from ._preload import preload_files
from ._schema import schema_problems
from ._yaml import line_of, load_yaml

__all__ = ["load_scenario", "loads_scenario", "parse_scenario"]

_MAX_SAMPLES = 100_000


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load and validate a scenario file; relative paths in it are relative to its directory."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ScenarioError(
            Problem("", f"cannot read the scenario: {reason}"), source=str(file)
        ) from None
    return loads_scenario(text, source=str(file), base_dir=file.resolve().parent, file=file)


def loads_scenario(
    text: str, *, source: str = "<string>", base_dir: Path | None = None, file: Path | None = None
) -> Scenario:
    """Load a scenario from YAML text (``base_dir`` resolves relative paths; default cwd)."""
    located = load_yaml(text, source=source)
    return parse_scenario(
        located.data, lines=located.lines, source=source, base_dir=base_dir, file=file
    )


def parse_scenario(
    document: Any,
    *,
    lines: Mapping[str, int] | None = None,
    source: str = "<scenario>",
    base_dir: Path | None = None,
    file: Path | None = None,
) -> Scenario:
    """A scenario from already-parsed data (a dict as the YAML would give)."""
    lines = lines or {}
    if not isinstance(document, Mapping):
        raise ScenarioError(
            Problem("", f"a scenario must be a mapping, got {type(document).__name__}"),
            source=source,
        )
    problems = schema_problems(document, lines)
    builder = _Builder(document, base_dir or Path.cwd(), problems)
    scenario = builder.build(file)
    located = [
        p if p.line is not None else replace(p, line=line_of(lines, p.path)) for p in problems
    ]
    if located or scenario is None:
        raise ScenarioError(sorted(located, key=lambda p: (p.line or 0, p.path)), source=source)
    return scenario


class _Builder:
    """Turns a schema-checked document into values, adding the problems the schema can't see."""

    def __init__(self, doc: Mapping[str, Any], base_dir: Path, problems: list[Problem]) -> None:
        self.doc = doc
        self.base_dir = base_dir
        self.problems = problems

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.doc.get(name, {})
        return value if isinstance(value, Mapping) else {}

    def build(self, file: Path | None) -> Scenario | None:
        duration = parse_duration(self.doc.get("duration"))
        host = HostSpec(cpu_count=_int(self.section("host").get("cpu_count"), 4))
        machine = self.machine(host)
        faults = self.faults(duration, machine)
        expectations = self.expectations()
        epoch, epoch_ns = self.epoch()
        self.clock_range(epoch, epoch_ns, duration)
        disk = self.disk()
        sample_every = self.sample_every(duration)
        if self.problems or duration is None or machine is None or not duration:
            if duration == 0:
                self.error("duration", "must be longer than 0s")
            return None
        machine_config, machine_document = machine
        if disk.preload is not None and machine_config.data_manager is None:
            self.error("disk.preload", "the machine has no data_manager service to hold it")
            return None
        too_busy = tick_budget_problem(machine_config, duration)
        if too_busy is not None:
            self.error(f"machine.{too_busy.path}", too_busy.message)
            return None
        writers = self.file_writers(machine_config)
        if self.problems:
            return None
        envelope_doc = self.section("fuzz").get("envelope", {})
        return Scenario(
            name=str(self.doc["name"]),
            description=str(self.doc.get("description", "")),
            seed=_int(self.doc.get("seed"), 0),
            epoch=epoch,
            epoch_ns=epoch_ns,
            duration_s=duration,
            sample_every_s=sample_every,
            machine=machine_config,
            machine_document=MappingProxyType(machine_document),
            host=host,
            disk=disk,
            network=self.network(),
            cloud=self.cloud(),
            payload=MappingProxyType(dict(self.section("payload"))),
            file_writers=writers,
            faults=faults,
            expectations=expectations,
            envelope=envelope_from(
                envelope_doc, machine=machine_config, duration=duration, expectations=expectations
            ),
            source=file,
        )

    def epoch(self) -> tuple[str, int]:
        text = self.doc.get("epoch", DEFAULT_EPOCH)
        try:
            moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            self.error("epoch", f"not a valid date and time: {text!r}")
            return DEFAULT_EPOCH, 0
        seconds = int(moment.timestamp())
        micros = moment.microsecond
        return str(text), seconds * 10**9 + micros * 1000

    def clock_range(self, epoch: str, epoch_ns: int, duration: float | None) -> None:
        """The run's clock, final drain included, must stay within the times the cloud stores:
        past them every upload is refused (a replay of a device whose clock read 2262 did)."""
        first, last = CLOCK_RANGE_NS
        end_ns = epoch_ns + round(((duration or 0.0) + FINAL_DRAIN_S) * 1e9)
        if not first <= epoch_ns <= end_ns <= last:
            self.error(
                "epoch",
                f"a run from {epoch} for {format_duration(duration or 0.0)} and up to "
                f"{format_duration(FINAL_DRAIN_S)} of final drain leaves the times the cloud "
                "stores (1677-09-21 to 2262-04-11: nanoseconds since 1970 in 64 bits)",
            )

    def sample_every(self, duration: float | None) -> float:
        given = parse_duration(self.doc.get("sample_every"))
        if given is None:
            return min(60.0, max(1.0, (duration or 0.0) / 1000))
        if given <= 0:
            self.error("sample_every", "must be longer than 0s")
        elif duration and duration / given > _MAX_SAMPLES:
            self.error(
                "sample_every",
                f"would take more than {_MAX_SAMPLES} samples; use a longer interval",
            )
        return given

    def machine(self, host: HostSpec) -> tuple[MachineConfig, dict[str, Any]] | None:
        doc = self.doc.get("machine")
        if not isinstance(doc, Mapping):
            return None
        if "path" in doc:
            return self.machine_file(doc, host)
        try:
            config = parse_machine_config(doc, env=SIM_ENV, cpu_count=host.cpu_count)
        except ConfigError as error:
            for p in error.problems:
                if p.severity == "error":
                    path = f"machine.{p.path}" if p.path else "machine"
                    self.error(path, p.message)
            return None
        unsimulated = simulation_problems(config)
        for p in unsimulated:
            self.error(f"machine.{p.path}", p.message)
        return None if unsimulated else (config, json.loads(json.dumps(doc)))

    def machine_file(
        self, doc: Mapping[str, Any], host: HostSpec
    ) -> tuple[MachineConfig, dict[str, Any]] | None:
        extra = sorted(set(doc) - {"path"})
        if extra or not isinstance(doc["path"], str):
            self.error(
                f"machine.{extra[0]}" if extra else "machine.path",
                "give either an inline machine config or only {path: FILE}",
            )
            return None
        file = self.base_dir / doc["path"]
        try:
            config = load_machine_config(file, env=SIM_ENV, cpu_count=host.cpu_count)
            document = json.loads(file.read_text(encoding="utf-8"))
        except ConfigError as error:
            for p in error.problems:
                if p.severity == "error":
                    self.error("machine.path", f"{doc['path']}: {p}")
            return None
        except (OSError, ValueError) as error:
            self.error("machine.path", f"cannot read {doc['path']}: {error}")
            return None
        unsimulated = simulation_problems(config)
        for p in unsimulated:
            self.error("machine.path", f"{doc['path']}: {p}")
        return None if unsimulated else (config, document)

    def faults(
        self, duration: float | None, machine: tuple[MachineConfig, Any] | None
    ) -> FaultSchedule:
        main, problems = parse_schedule(self.doc.get("faults"), run_duration=duration)
        self.problems += problems
        cloud_doc = self.section("cloud").get("faults")
        cloud, problems = parse_schedule(
            cloud_doc, where="cloud.faults", run_duration=duration, first_index=len(main)
        )
        self.problems += problems
        for index, step in enumerate(cloud):
            if step.group != "rpc":
                rpc = ", ".join(k for k, s in sorted(KINDS.items()) if s.group == "rpc")
                self.error(
                    f"cloud.faults[{index}].kind",
                    f"only cloud (rpc) faults belong here ({rpc}); put {step.kind!r} under faults",
                )
        clash = {s.fault_id for s in main} & {s.fault_id for s in cloud}
        for fault_id in sorted(clash):
            self.error("cloud.faults", f"fault id {fault_id!r} is also used under faults")
        if clash or any(s.group != "rpc" for s in cloud):
            return main
        schedule = FaultSchedule(main.steps + cloud.steps)
        if machine is not None:
            self.cross_check(schedule, machine[0])
        return schedule

    def cross_check(self, schedule: FaultSchedule, machine: MachineConfig) -> None:
        devices = device_names(machine)
        paths = self.fault_paths()
        for step in schedule:
            where = paths.get(step.fault_id, "faults")
            if step.group == "device" and step.params["component"] not in devices:
                self.error(
                    f"{where}.component",
                    f"no simulated device {step.params['component']!r} in the machine "
                    f"(devices: {', '.join(sorted(devices)) or 'none'})",
                )
            elif step.group == "device" and step.params.get("method") is not None:
                captured = captured_methods(machine, str(step.params["component"]))
                if step.params["method"] not in captured:
                    self.error(
                        f"{where}.method",
                        f"{step.params['component']} captures no {step.params['method']!r} "
                        f"(it captures: {', '.join(sorted(captured)) or 'nothing'})",
                    )
            if step.kind == "reconfigure":
                self.problems += reconfigure_problems(machine, step.params, where)

    def fault_paths(self) -> dict[str, str]:
        """fault id → its path in the file (ids default to f1, f2 … in file order)."""
        paths: dict[str, str] = {}
        entries = [(f"faults[{i}]", f) for i, f in enumerate(_list(self.doc.get("faults")))]
        cloud = _list(self.section("cloud").get("faults"))
        entries += [(f"cloud.faults[{i}]", f) for i, f in enumerate(cloud)]
        for index, (path, entry) in enumerate(entries):
            fault_id = entry.get("id", f"f{index + 1}") if isinstance(entry, Mapping) else ""
            paths[str(fault_id)] = path
        return paths

    def disk(self) -> DiskSpec:
        doc = self.section("disk")
        default = DiskSpec()
        capacity = _size(doc.get("capacity"), default.capacity_bytes)
        fill = _size(doc.get("initial_fill"), default.initial_fill_bytes)
        block = _size(doc.get("block_size"), default.block_size)
        if block < 512 or block & (block - 1):
            self.error("disk.block_size", f"must be a power of two >= 512, got {block}")
        if capacity < block:
            self.error("disk.capacity", f"must be at least one block ({block} bytes)")
        if fill >= capacity:
            self.error("disk.initial_fill", f"must be less than the capacity ({capacity} bytes)")
        preload = self.preload(doc.get("preload"), block=block, room=capacity - fill)
        return DiskSpec(
            capacity_bytes=capacity, initial_fill_bytes=fill, block_size=block, preload=preload
        )

    def preload(self, value: Any, *, block: int, room: int) -> Path | None:
        """The preloaded capture directory, which must exist and fit on the disk."""
        if not isinstance(value, str):
            return None
        path = (self.base_dir / value).resolve()
        if not path.is_dir():
            what = "is not a directory" if path.exists() else "does not exist"
            self.error("disk.preload", f"{value} {what} ({path})")
            return path
        try:
            needed = sum(-(-size // block) * block for _, size in preload_files(path))
        except OSError as error:
            self.error("disk.preload", f"cannot read {value}: {error.strerror or error}")
            return path
        if needed > room:
            self.error(
                "disk.preload",
                f"{value} needs {format_size(needed)} on the disk, but only {format_size(room)} "
                "is free (raise disk.capacity or lower disk.initial_fill)",
            )
        return path

    def file_writers(self, machine: MachineConfig) -> tuple[FileWriterSpec, ...]:
        """Each writer's directory is under one of the machine's additional_sync_paths (not
        in its capture directory), and it appends more often than sync's quiet period."""
        manager = machine.data_manager
        writers = []
        for index, doc in enumerate(_list(self.doc.get("file_writers"))):
            where = f"file_writers[{index}]"
            directory = posixpath.normpath(str(doc["dir"]))
            every = parse_duration(doc["every"]) or 0.0
            write_for = parse_duration(doc.get("write_for", 0)) or 0.0
            size = _size(doc["size"], 0)
            if manager is None:
                self.error(where, "the machine has no data_manager service to sync these files")
                continue
            roots = manager.additional_sync_paths
            if not any(_under(directory, root) for root in roots):
                listed = ", ".join(posixpath.normpath(root) for root in roots) or "none"
                self.error(
                    f"{where}.dir",
                    f"{directory} is not under one of the machine's additional_sync_paths "
                    f"({listed}): sync would never see its files",
                )
            elif _under(directory, manager.capture_dir):
                self.error(f"{where}.dir", f"{directory} is inside the capture directory")
            if every <= write_for:
                self.error(
                    f"{where}.every", f"must be longer than write_for ({write_for:g}s): one file "
                    "at a time",
                )  # fmt: skip
            if size <= 0:
                self.error(f"{where}.size", "must be at least 1 byte")
            if write_for and manager.file_last_modified_millis <= APPEND_EVERY_S * 1000:
                self.error(
                    f"{where}.write_for",
                    f"appended once a second, but the machine's file_last_modified_millis "
                    f"({manager.file_last_modified_millis}) takes a file quiet that long as "
                    "complete: sync would upload it half written",
                )
            named = {"extension": str(doc["extension"])} if "extension" in doc else {}
            writers.append(FileWriterSpec(directory, every, size, write_for, **named))
        return tuple(writers)

    def network(self) -> NetworkSpec:
        doc = self.section("network")
        trace = doc.get("trace")
        path = None
        if isinstance(trace, str):
            from dmsim.net import load_connectivity_trace  # slow import, rarely needed

            path = (self.base_dir / trace).resolve()
            try:
                load_connectivity_trace(path)
            except ScenarioError as error:
                for p in error.problems:
                    self.error("network.trace", f"{trace}: {p}")
            except OSError as error:
                self.error("network.trace", f"cannot read {trace}: {error.strerror or error}")
        return NetworkSpec(profile=str(doc.get("profile", "lan")), trace=path)

    def cloud(self) -> CloudSpec:
        doc = self.section("cloud")
        capacity = parse_size(doc.get("capacity")) if "capacity" in doc else None
        limit = parse_size(doc.get("max_request_bytes")) if "max_request_bytes" in doc else None
        return CloudSpec(capacity_bytes=capacity, max_request_bytes=limit)

    def expectations(self) -> Expectations:
        doc = self.section("expectations")
        default = Expectations()
        raw_counts = doc.get("counts")
        counts = {
            key: CountBound(minimum=bound.get("min"), maximum=bound.get("max"))
            for key, bound in (raw_counts.items() if isinstance(raw_counts, Mapping) else ())
            if isinstance(bound, Mapping)
        }
        for key, bound in counts.items():
            if (
                bound.minimum is not None
                and bound.maximum is not None
                and bound.minimum > bound.maximum
            ):
                self.error(f"expectations.counts.{key}", "min is larger than max")
        allowed = doc.get("allowed")
        return Expectations(
            allowed=(
                frozenset(a for a in allowed if isinstance(a, str))  # the schema names the rest
                if isinstance(allowed, list)
                else default.allowed
            ),
            time_to_cloud_p99_s=parse_duration(doc.get("time_to_cloud_p99")),
            late_after_s=parse_duration(doc.get("late_after")),
            drain_within_s=parse_duration(doc.get("drain_within")),
            drain_to_files=_opt_int(doc.get("drain_to_files")),
            disk_high_water=_float(doc.get("disk_high_water")),
            min_delivered=_opt_int(doc.get("min_delivered")),
            max_skipped=_opt_int(doc.get("max_skipped")),
            max_capture_gap_s=parse_duration(doc.get("max_capture_gap")),
            counts=MappingProxyType(counts),
        )


def _under(path: str, directory: str) -> bool:
    directory = posixpath.normpath(directory)
    return path == directory or path.startswith(directory + "/")


def _list(value: Any) -> list[Any]:
    """A list the schema accepts, or nothing to build from (the schema reports it)."""
    return value if isinstance(value, list) else []


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _size(value: Any, default: int) -> int:
    parsed = parse_size(value) if value is not None else None
    return default if parsed is None else parsed
