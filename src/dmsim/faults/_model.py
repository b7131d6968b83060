"""Fault steps and schedules: faults as data, at absolute simulated times.

A schedule is saved, shrunk, replayed and run again on a bench, so every step carries an
absolute ``at`` (seconds since the start of the run) and a stable ``fault_id``: removing one
step never moves another. In a scenario file a step is a mapping whose keys other than ``at``,
``kind``, ``duration`` and ``id`` are the kind's parameters::

    - {at: 10m, kind: loss, duration: 5m, probability: 0.3}
    - {at: 1h, kind: crash, restart_after: 30s}
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dmsim.errors import Problem, ScenarioError

from ._kinds import KINDS, KindSpec
from ._params import FAULT_ID_RE, check_param, freeze, thaw
from ._units import format_duration, format_size, parse_duration

__all__ = ["FaultSchedule", "FaultStep", "parse_schedule", "parse_step", "step_problems"]

_RESERVED = ("at", "kind", "duration", "id")


@dataclass(frozen=True, slots=True)
class FaultStep:
    """One fault: ``kind`` with ``params`` from ``at`` for ``duration`` seconds (or instant)."""

    at: float
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    fault_id: str = "f1"
    duration: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", freeze(self.params))
        problems = step_problems(self)
        if problems:
            raise ScenarioError(problems, source=f"fault {self.fault_id!r}")

    def __hash__(self) -> int:
        return hash(self.canonical())

    @property
    def spec(self) -> KindSpec:
        return KINDS[self.kind]

    @property
    def group(self) -> str:
        return self.spec.group

    @property
    def end(self) -> float:
        """When the fault stops acting: the window's end, the restart, or ``inf`` (until the
        end of the run)."""
        if self.kind in ("crash", "clean_restart"):
            return self.at + float(self.params.get("restart_after", 0.0))
        if self.duration is not None:
            return self.at + self.duration
        if self.spec.window == "forbidden":
            return self.at
        return math.inf

    def to_document(self) -> dict[str, Any]:
        """The scenario-file form (durations and sizes spelled for people)."""
        doc: dict[str, Any] = {"at": format_duration(self.at), "kind": self.kind}
        if self.duration is not None:
            doc["duration"] = format_duration(self.duration)
        for spec in self.spec.params:
            if spec.name not in self.params:
                continue
            value = thaw(self.params[spec.name])
            if spec.type in ("duration", "signed_duration"):
                value = format_duration(value)
            elif spec.type == "size":
                value = format_size(value)
            doc[spec.name] = value
        doc["id"] = self.fault_id
        return doc

    def canonical(self) -> str:
        """A stable text form (equal steps, equal text): for memo keys and hashing."""
        return json.dumps(
            [self.at, self.kind, thaw(self.params), self.fault_id, self.duration],
            sort_keys=True,
            separators=(",", ":"),
        )


def step_problems(step: FaultStep, where: str = "") -> list[Problem]:
    """Everything wrong with an already-typed step (the programmatic path)."""
    prefix = f"{where}." if where else ""
    spec = KINDS.get(step.kind)
    if spec is None:
        return [Problem(f"{prefix}kind", _unknown_kind(step.kind))]
    problems: list[Problem] = []
    if not FAULT_ID_RE.match(step.fault_id):
        problems.append(
            Problem(f"{prefix}id", f"expected letters, digits, '_.-'; got {step.fault_id!r}")
        )
    if not (isinstance(step.at, int | float) and math.isfinite(step.at) and step.at >= 0):
        problems.append(Problem(f"{prefix}at", f"must be a time >= 0 seconds, got {step.at!r}"))
    problems += _window_problems(spec, step.duration, prefix)
    for name, value in step.params.items():
        param = spec.param(name)
        if param is None:
            problems.append(Problem(f"{prefix}{name}", _unknown_param(spec, name)))
            continue
        try:
            check_param(param, thaw(value))
        except ValueError as error:
            problems.append(Problem(f"{prefix}{name}", str(error)))
    problems += _required_problems(spec, step.params, prefix)
    return problems


def _window_problems(spec: KindSpec, duration: float | None, prefix: str) -> list[Problem]:
    if duration is None:
        if spec.window == "required":
            return [Problem(f"{prefix}duration", f"'{spec.kind}' needs a duration like '5m'")]
        return []
    if spec.window == "forbidden":
        return [Problem(f"{prefix}duration", f"'{spec.kind}' is instant and takes no duration")]
    if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
        return [Problem(f"{prefix}duration", f"must be a duration > 0, got {duration!r}")]
    return []


def _required_problems(spec: KindSpec, params: Mapping[str, Any], prefix: str) -> list[Problem]:
    problems = [
        Problem(f"{prefix}{p.name}", f"'{spec.kind}' needs '{p.name}'")
        for p in spec.params
        if p.required and p.name not in params
    ]
    if spec.kind == "reconfigure" and not params:
        problems.append(
            Problem(f"{prefix}changes", "'reconfigure' needs 'changes' or 'data_manager'")
        )
    return problems


def _unknown_kind(kind: object) -> str:
    close = difflib.get_close_matches(str(kind), KINDS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown fault kind {kind!r}; {hint}known: {', '.join(sorted(KINDS))}"


def _unknown_param(spec: KindSpec, name: str) -> str:
    known = ", ".join(p.name for p in spec.params) or "none"
    return f"'{spec.kind}' has no parameter {name!r} (its parameters: {known})"


def parse_step(doc: Any, *, where: str, default_id: str) -> tuple[FaultStep | None, list[Problem]]:
    """A step from its scenario-file mapping, or every problem found (paths under ``where``)."""
    if not isinstance(doc, Mapping):
        return None, [Problem(where, f"expected a mapping with 'at' and 'kind', got {doc!r}")]
    problems: list[Problem] = []
    at = parse_duration(doc.get("at"))
    if at is None:
        problems.append(
            Problem(f"{where}.at", f"expected a duration like '90s', got {doc.get('at')!r}")
        )
    duration = parse_duration(doc["duration"]) if "duration" in doc else None
    if "duration" in doc and (duration is None or duration <= 0):
        problems.append(
            Problem(f"{where}.duration", f"expected a duration like '5m', got {doc['duration']!r}")
        )
    fault_id = doc.get("id", default_id)
    if not isinstance(fault_id, str) or not FAULT_ID_RE.match(fault_id):
        problems.append(
            Problem(f"{where}.id", f"expected letters, digits, '_.-'; got {fault_id!r}")
        )
    kind = doc.get("kind")
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        return None, [*problems, Problem(f"{where}.kind", _unknown_kind(kind))]
    params, param_problems = _parse_params(spec, doc, where)
    problems += param_problems
    if "duration" not in doc or duration is not None:
        problems += _window_problems(spec, duration, f"{where}.")
    given = {name: value for name, value in doc.items() if name not in _RESERVED}
    problems += _required_problems(spec, given, f"{where}.")
    if problems or at is None or not isinstance(fault_id, str):
        return None, problems
    return FaultStep(at=at, kind=spec.kind, params=params, fault_id=fault_id, duration=duration), []


def _parse_params(
    spec: KindSpec, doc: Mapping[str, Any], where: str
) -> tuple[dict[str, Any], list[Problem]]:
    params: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in doc.items():
        if name in _RESERVED:
            continue
        param = spec.param(name)
        if param is None:
            problems.append(Problem(f"{where}.{name}", _unknown_param(spec, str(name))))
            continue
        try:
            params[name] = check_param(param, value)
        except ValueError as error:
            problems.append(Problem(f"{where}.{name}", str(error)))
    return params, problems


@dataclass(frozen=True, slots=True)
class FaultSchedule:
    """Steps ordered by time (ties by id); ids are unique."""

    steps: tuple[FaultStep, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.steps, key=lambda s: (s.at, s.fault_id)))
        object.__setattr__(self, "steps", ordered)
        seen: set[str] = set()
        for step in ordered:
            if step.fault_id in seen:
                raise ScenarioError(
                    Problem("faults", f"fault id {step.fault_id!r} is used twice"),
                    source="fault schedule",
                )
            seen.add(step.fault_id)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[FaultStep]:
        return iter(self.steps)

    def __hash__(self) -> int:
        return hash(self.canonical())

    def without(self, fault_ids: Iterable[str]) -> FaultSchedule:
        drop = set(fault_ids)
        return FaultSchedule(tuple(s for s in self.steps if s.fault_id not in drop))

    def replacing(self, step: FaultStep) -> FaultSchedule:
        """The schedule with the step of the same id replaced by ``step``."""
        return FaultSchedule(tuple(step if s.fault_id == step.fault_id else s for s in self.steps))

    def last_end(self) -> float:
        """When the last fault stops acting (0 for an empty schedule)."""
        return max((step.end for step in self.steps), default=0.0)

    def to_document(self) -> list[dict[str, Any]]:
        return [step.to_document() for step in self.steps]

    def canonical(self) -> str:
        return "[" + ",".join(step.canonical() for step in self.steps) + "]"


def parse_schedule(
    doc: Any, *, where: str = "faults", run_duration: float | None = None, first_index: int = 0
) -> tuple[FaultSchedule, list[Problem]]:
    """A schedule from a list of step mappings; problems name ``where[i].field``."""
    if doc is None:
        return FaultSchedule(), []
    if not isinstance(doc, list | tuple):
        return FaultSchedule(), [Problem(where, f"expected a list of faults, got {doc!r}")]
    steps: list[FaultStep] = []
    problems: list[Problem] = []
    ids: dict[str, str] = {}
    for index, item in enumerate(doc):
        path = f"{where}[{index}]"
        step, found = parse_step(item, where=path, default_id=f"f{first_index + index + 1}")
        problems += found
        if step is None:
            continue
        if step.fault_id in ids:
            problems.append(
                Problem(
                    f"{path}.id", f"fault id {step.fault_id!r} already used by {ids[step.fault_id]}"
                )
            )
            continue
        ids[step.fault_id] = path
        if run_duration is not None:
            problems += _inside_run(step, path, run_duration)
        steps.append(step)
    problems += _process_overlaps(steps, ids)
    return FaultSchedule(tuple(steps)), problems


def _process_overlaps(steps: list[FaultStep], paths: Mapping[str, str]) -> list[Problem]:
    """A crash or restart while the process is down (after a crash or clean restart, before it
    comes back) has nothing to act on. A reconfigure then edits the config file the next boot
    starts with."""
    problems: list[Problem] = []
    down: FaultStep | None = None
    for step in sorted(steps, key=lambda s: (s.at, s.fault_id)):
        if step.group != "process":
            continue
        if down is not None and step.at < down.end:
            problems.append(
                Problem(
                    f"{paths[step.fault_id]}.at",
                    f"the process is down then ({down.kind} {down.fault_id!r} until "
                    f"{format_duration(down.end)})",
                )
            )
            continue
        down = step
    return problems


def _inside_run(step: FaultStep, path: str, run_duration: float) -> list[Problem]:
    if step.at > run_duration:
        return [
            Problem(
                f"{path}.at",
                f"{format_duration(step.at)} is after the end of the run "
                f"({format_duration(run_duration)})",
            )
        ]
    if math.isfinite(step.end) and step.end > run_duration:
        field_name = "duration" if step.duration is not None else "restart_after"
        return [
            Problem(
                f"{path}.{field_name}",
                f"the fault ends at {format_duration(step.end)}, after the end of the run "
                f"({format_duration(run_duration)})",
            )
        ]
    return []
