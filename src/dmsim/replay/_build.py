"""A field snapshot → a scenario directory that ``dmsim run`` (and ``dmsim fuzz``) can run.

The directory holds ``<name>.scenario.yaml``, ``machine.json``, ``capture/`` (the field capture
directory copied byte for byte, preloaded into the simulated disk at time 0) and, when given,
the connectivity trace that drives the link from time 0 and the event log whose failures are
the scenario's faults (:mod:`._events`). The scenario's epoch is the snapshot's moment, so new
readings follow the field's in time and the backlog keeps its age.

Without the device's machine config, one is inferred from the files: a simulated component per
(component type, name), a capture method per method and additional params, at the rate its
files show, with the files' tags and payload sizes (:mod:`._payloads`). A stream no simulated
resource can capture (a module's API, a name two component types claim, a damaged header) is
left out with a note; its files are synced all the same.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dmsim.config import load_machine_config, method_spec, parse_machine_config
from dmsim.errors import ConfigError, Problem, ScenarioError
from dmsim.faults import format_duration, format_size
from dmsim.scenario import DiskSpec, NetworkSpec, load_scenario
from dmsim.scenario._machine import simulation_problems
from dmsim.scenario._model import SIM_ENV
from dmsim.service._events import read_event_log

from ._events import EventFaults, faults_from_events
from ._payloads import observe_payloads
from ._snapshot import FieldSnapshot, StreamSummary

__all__ = ["ReplayOptions", "ReplayPlan", "build_replay"]

_DATA_MANAGER = "data_manager"
_RESOURCE_PATH = re.compile(r"(components|services)\[(\d+)\]")
_TRACE_TAIL_S = 600.0  # after a log's last entry, time to see its effect


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    name: str
    seed: int = 0
    config: Path | None = None
    connectivity: Path | None = None
    events: Path | None = None  # the device's `dmsim machine --events` log
    profile: str = NetworkSpec().profile
    duration_s: float | None = None  # default: the longer log's length (+10 min), else 1 hour
    drain_within_s: float | None = None  # default: half the run
    disk_capacity_bytes: int = DiskSpec().capacity_bytes
    disk_free_bytes: int | None = None  # what df showed free on the device
    capture: bool = True


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    scenario_path: Path
    machine_inferred: bool
    duration_s: float
    initial_fill_bytes: int
    from_events: EventFaults | None = None
    payload_notes: tuple[str, ...] = ()


def build_replay(snapshot: FieldSnapshot, options: ReplayOptions, out: Path) -> ReplayPlan:
    """Write the scenario directory ``out`` (created; refused if it holds anything) and check
    that the scenario loads."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ScenarioError(Problem("--out", f"{out} exists and is not an empty directory"))
    if out.resolve().is_relative_to(snapshot.root.resolve()):
        raise ScenarioError(Problem("--out", f"{out} is inside the capture directory it copies"))
    machine, payload, notes = _machine(snapshot, options)
    inferred = options.config is None
    from_events = None
    if options.events is not None:
        log = read_event_log(options.events)
        from_events = faults_from_events(log.events, log.clock_sets)
    duration = options.duration_s or _default_duration(options.connectivity, from_events)
    # half the run: the fuzzer's faults get the first half, the backlog's drain the second
    drain_within = options.drain_within_s or float(math.ceil(duration / 2))
    if drain_within > duration:
        raise ScenarioError(
            Problem(
                "--drain-within",
                f"{format_duration(drain_within)} is longer than the run "
                f"({format_duration(duration)}): it could never be judged",
            )
        )
    block = DiskSpec().block_size  # the case's disk keeps the default block size
    preload_bytes = sum(-(-size // block) * block for _, size in snapshot.files)
    fill = _initial_fill(options, preload_bytes)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        path = _write_case(
            snapshot,
            options,
            out,
            machine=machine,
            inferred=inferred,
            duration=duration,
            drain_within=drain_within,
            fill=fill,
            from_events=from_events,
            payload=payload,
        )
    except BaseException as error:
        # a half-written case is worse than none; an empty directory given to us stays
        shutil.rmtree(out) if created else _empty(out)
        if isinstance(error, OSError):
            where = error.filename or out
            reason = error.strerror or str(error)
            problem = Problem("--out", f"cannot write the case: {where}: {reason}")
            raise ScenarioError(problem) from None
        raise
    return ReplayPlan(path, inferred, duration, fill, from_events, notes)


def _empty(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _write_case(
    snapshot: FieldSnapshot,
    options: ReplayOptions,
    out: Path,
    *,
    machine: dict[str, Any],
    inferred: bool,
    duration: float,
    drain_within: float,
    fill: int,
    from_events: EventFaults | None,
    payload: dict[str, Any],
) -> Path:
    shutil.copytree(snapshot.root, out / "capture", symlinks=False, dirs_exist_ok=True)
    (out / "machine.json").write_text(json.dumps(machine, indent=2) + "\n", encoding="utf-8")
    network: dict[str, Any] = {"profile": options.profile}
    if options.connectivity is not None:
        trace_name = f"connectivity{options.connectivity.suffix.lower()}"
        shutil.copyfile(options.connectivity, out / trace_name)
        network["trace"] = trace_name
    if options.events is not None:  # kept with the case: the faults below come from it
        shutil.copyfile(options.events, out / "events.jsonl")
    disk: dict[str, Any] = {"capacity": format_size(options.disk_capacity_bytes)}
    if fill:
        disk["initial_fill"] = format_size(fill)
    disk["preload"] = "capture"
    document = {
        "name": options.name,
        "description": f"replay of {snapshot.root} as found at {snapshot.taken_at_iso}",
        "seed": options.seed,
        "epoch": snapshot.taken_at_iso,
        "duration": format_duration(duration),
        "machine": {"path": "machine.json"},
        "disk": disk,
        "network": network,
        **({"payload": payload} if payload else {}),
        "faults": list(from_events.faults) if from_events is not None else [],
        "expectations": {"drain_within": format_duration(drain_within)},
    }
    path = out / f"{options.name}.scenario.yaml"
    header = _header(snapshot, inferred, options)
    path.write_text(header + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    load_scenario(path)  # a scenario that does not load is refused here, not at `dmsim run`
    return path


def _default_duration(connectivity: Path | None, from_events: EventFaults | None) -> float:
    spans = [from_events.span_s] if from_events is not None else []
    if connectivity is not None:
        from dmsim.net import load_connectivity_trace  # the network stack: only when needed

        spans.append(load_connectivity_trace(connectivity)[-1].time)
    if not spans:
        return 3600.0
    return float(math.ceil(max(spans) + _TRACE_TAIL_S))


def _initial_fill(options: ReplayOptions, preload_bytes: int) -> int:
    """The disk's other contents: what was neither free nor the capture directory."""
    if options.disk_free_bytes is None:
        return 0
    used = options.disk_capacity_bytes - options.disk_free_bytes
    if used < 0:
        raise ScenarioError(Problem("--disk-free", "is larger than the disk (--disk-capacity)"))
    return max(0, used - preload_bytes)


def _machine(
    snapshot: FieldSnapshot, options: ReplayOptions
) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    """The machine document, the scenario's payload options, and notes on what was not
    learned from the files."""
    payload: dict[str, Any] = {}
    notes: tuple[str, ...] = ()
    if options.config is not None:
        load_machine_config(options.config)  # its problems, named in its file, before anything
        document = json.loads(options.config.read_text(encoding="utf-8"))
    else:
        if not snapshot.streams:
            raise ScenarioError(
                Problem(
                    "CAPTURE_DIR",
                    "no readable capture file to infer the machine from; pass --config",
                )
            )
        streams, skipped = _simulable(snapshot.streams)
        observed = observe_payloads(streams)
        document = infer_machine(streams, image_sizes=observed.image_sizes)
        if observed.point_count is not None:
            payload["point_count"] = observed.point_count
        notes = (*skipped, *observed.notes)
    if not options.capture:
        _data_manager(document)["attributes"]["capture_disabled"] = True
    return document, payload, notes


def _data_manager(document: dict[str, Any]) -> dict[str, Any]:
    services = document.setdefault("services", [])
    for service in services:
        if isinstance(service, dict) and service.get("type") == _DATA_MANAGER:
            service.setdefault("attributes", {})
            return service
    service = {"name": _DATA_MANAGER, "type": _DATA_MANAGER, "attributes": {}}
    services.append(service)
    return service


def _simulable(
    streams: tuple[StreamSummary, ...],
) -> tuple[tuple[StreamSummary, ...], list[str]]:
    """The streams a simulated machine can capture, and a note for each other one (a module's
    API, a name two component types claim, a header damaged into nonsense): its files are
    still preloaded and synced, but a machine config with it would not load."""
    notes: list[str] = []

    def skip(dropped: list[StreamSummary], why: str) -> None:
        notes.extend(
            f"{stream.label}: not captured in the replay ({why}); its files are synced"
            for stream in dropped
        )

    readings: Counter[tuple[str, str]] = Counter()
    for stream in streams:
        readings[(_api(stream.component_type), stream.component_name)] += stream.readings
    kept = list(streams)
    for stream in streams:  # one name, two types: the type with more readings is simulated
        api = _api(stream.component_type)
        rival = max(
            (key for key in readings if key[1] == stream.component_name and key[0] != api),
            key=lambda key: readings[key],
            default=None,
        )
        if rival is not None and readings[rival] > readings[(api, stream.component_name)]:
            kept.remove(stream)
            name = stream.component_name
            skip([stream], f"duplicate resource name {name!r}: the {rival[0]} has more readings")
    while kept:
        document = infer_machine(tuple(kept))
        problems = _config_problems(document)
        if not problems:
            break
        before = len(kept)
        for section, index, message in problems:
            entry = document[section][index]
            api = f"{entry.get('namespace', 'rdk')}:{section[:-1]}:{entry['type']}"
            resource = (api, entry["name"])
            dropped = [s for s in kept if (_api(s.component_type), s.component_name) == resource]
            kept = [s for s in kept if s not in dropped]
            skip(dropped, message)
        if len(kept) == before:  # the problem is no stream's: leaving one out cannot mend it
            raise ScenarioError(Problem("CAPTURE_DIR", f"inferred machine: {problems[0][2]}"))
    return tuple(kept), notes


def _api(component_type: str) -> str:
    return ":".join(_api_parts(component_type))


def _config_problems(document: dict[str, Any]) -> list[tuple[str, int, str]]:
    """(``components``/``services``, index, message) of each resource an inferred machine
    config cannot be loaded or simulated with."""
    try:
        config = parse_machine_config(document, env=SIM_ENV)
    except ConfigError as error:
        problems = [p for p in error.problems if p.severity == "error"]
    else:
        problems = simulation_problems(config)
    found: dict[tuple[str, int], str] = {}
    for problem in problems:
        match = _RESOURCE_PATH.match(problem.path)
        if match is None:  # not one resource's: leaving one out cannot mend it
            raise ScenarioError(Problem("CAPTURE_DIR", f"inferred machine: {problem}"))
        found.setdefault((match[1], int(match[2])), problem.message)
    return [(section, index, message) for (section, index), message in found.items()]


def infer_machine(
    streams: tuple[StreamSummary, ...],
    *,
    image_sizes: Mapping[tuple[str, str], tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """A machine config with a simulated resource per component and the files' methods; a
    camera whose images were seen (``image_sizes``) captures at their size."""
    sizes = image_sizes or {}
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for stream in streams:
        namespace, _, type_name = _api_parts(stream.component_type)
        key = (stream.component_type, stream.component_name)
        resource = resources.setdefault(
            key,
            {
                "name": stream.component_name,
                "namespace": namespace,
                "type": type_name,
                "model": "fake",
                **(
                    {"attributes": {"width_px": sizes[key][0], "height_px": sizes[key][1]}}
                    if key in sizes
                    else {}
                ),
                "service_configs": [{"type": _DATA_MANAGER, "attributes": {"capture_methods": []}}],
            },
        )
        method: dict[str, Any] = {
            "method": stream.method_name,
            "capture_frequency_hz": _rate(stream),
        }
        params = _params(stream)
        if params:
            method["additional_params"] = params
        if stream.tags:
            method["tags"] = list(stream.tags)
        resource["service_configs"][0]["attributes"]["capture_methods"].append(method)
    components: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    for (component_type, _), resource in resources.items():
        is_component = _api_parts(component_type)[1] == "component"
        (components if is_component else services).append(resource)
    return {
        "components": components,
        "services": [*services, {"name": _DATA_MANAGER, "type": _DATA_MANAGER, "attributes": {}}],
    }


def _params(stream: StreamSummary) -> dict[str, str]:
    """The files' additional params; a required ``mime_type`` the files' params lack (rdk
    writes it in the header, not always in the params) comes from the header."""
    params = dict(stream.method_parameters)
    spec = method_spec(stream.component_type, stream.method_name)
    mime = spec.param("mime_type") if spec is not None else None
    if mime is not None and mime.required and "mime_type" not in params:
        allowed = mime.choices or (stream.mime_type,)
        params["mime_type"] = stream.mime_type if stream.mime_type in allowed else allowed[0]
    return params


def _api_parts(component_type: str) -> tuple[str, str, str]:
    """``rdk:component:camera`` → (rdk, component, camera); a bare type is an rdk component."""
    parts = component_type.split(":")
    if len(parts) == 3 and parts[1] in ("component", "service"):
        return parts[0], parts[1], parts[2]
    return "rdk", "component", parts[-1] or "sensor"


def _rate(stream: StreamSummary) -> float:
    """The rate the files show, to 3 significant digits; 1 Hz when no file shows one."""
    if stream.rate_hz is None:
        return 1.0
    return float(f"{stream.rate_hz:.3g}")


def _header(snapshot: FieldSnapshot, inferred: bool, options: ReplayOptions) -> str:
    lines = [
        f"Field replay of {snapshot.root}, written by `dmsim replay`.",
        f"Snapshot taken at {snapshot.taken_at_iso}: {snapshot.total_files:,} file(s), "
        f"{_megabytes(snapshot.total_bytes)}, {snapshot.readings:,} readable reading(s) "
        f"in {len(snapshot.streams)} stream(s).",
        "The capture directory is preloaded (disk.preload) byte for byte at time 0;",
        "the oracle follows each of its readings like a captured one.",
    ]
    if inferred:
        lines.append("The machine config was inferred from the files (no --config given).")
    if not options.capture:
        lines.append("Capture is disabled: the run replays the backlog's sync only.")
    if options.connectivity is not None:
        lines.append(f"The link follows {options.connectivity.name} from time 0.")
    if options.events is not None:
        lines.append(
            f"The faults replay {options.events.name} (events.jsonl), its first event at time 0."
        )
    return "".join(f"# {line}\n" for line in lines)


def describe(snapshot: FieldSnapshot) -> list[str]:
    """The snapshot in lines a person reads: streams, backlog age, damage, quarantine."""
    oldest = snapshot.oldest_reading_ns
    age = (
        f"; oldest reading {format_duration(round((snapshot.taken_at_ns - oldest) / 1e9))} "
        "before the snapshot"
        if oldest
        else ""
    )
    lines = [
        f"capture directory {snapshot.root}: {snapshot.total_files:,} file(s), "
        f"{_megabytes(snapshot.total_bytes)}, taken at {snapshot.taken_at_iso}{age}",
    ]
    width = max((len(s.label) for s in snapshot.streams), default=0)
    for s in snapshot.streams:
        rate = f"{s.rate_hz:.3g} Hz" if s.rate_hz is not None else "rate unknown"
        extra = f", {s.open_files} .prog" if s.open_files else ""
        extra += f", torn tails {s.torn_tail_bytes:,} B" if s.torn_tail_bytes else ""
        lines.append(
            f"  {s.label:<{width}}  {s.component_type} {s.data_type}: {s.files:,} file(s){extra}, "
            f"{s.readings:,} reading(s), {_megabytes(s.bytes)}, {rate}"
        )
    for report in snapshot.damaged:
        for problem in report.problems:
            lines.append(f"  damaged: {_relative(problem.path, snapshot.root)}: {_what(problem)}")
    for item in snapshot.quarantined:
        lines.append(f"  in failed/: {item.path}: {item.reason}")
    if snapshot.other_files:
        shown = ", ".join(snapshot.other_files[:3])
        more = f" and {len(snapshot.other_files) - 3} more" if len(snapshot.other_files) > 3 else ""
        lines.append(f"  other files (copied, not followed): {shown}{more}")
    return lines


def _megabytes(size: int) -> str:
    if size < 10**6:
        return f"{size / 1e3:.1f} kB"
    return f"{size / 1e6:,.1f} MB"


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


def _what(problem: Any) -> str:
    where = f"byte {problem.offset}: " if problem.offset is not None else ""
    return f"{where}{problem.what}"


def plan_lines(plan: ReplayPlan, options: ReplayOptions) -> list[str]:
    lines = [f"wrote {plan.scenario_path} ({format_duration(plan.duration_s)} simulated)"]
    if plan.machine_inferred:
        lines.append("  machine config inferred from the files; pass --config for the device's")
    lines += [f"  {note}" for note in plan.payload_notes]
    if plan.initial_fill_bytes:
        lines.append(f"  disk: other contents {_megabytes(plan.initial_fill_bytes)}")
    if not options.capture:
        lines.append("  capture disabled: only the backlog is synced")
    if plan.from_events is not None:
        found = plan.from_events
        kinds = Counter(str(doc["kind"]) for doc in found.faults)
        shown = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
        lines.append(
            f"  event log: {found.events:,} event(s) over {format_duration(round(found.span_s))}"
            f" → fault(s): {shown}"
        )
        if found.not_replayed:
            codes = ", ".join(f"{code} ×{n}" for code, n in found.not_replayed.items())
            lines.append(f"  failed attempts not replayed (local errors): {codes}")
    return lines
