"""A simulated capture control sensor: Viam's ``viam:capture-control:capture-control-sensor``.

The module's attributes, as it documents them:

- ``resources`` (required): ``[{"resource_name": ..., "method": ...}, ...]``, the collectors it
  controls;
- ``default_capture_frequency_hz`` (default 0: capture nothing until a recording starts;
  at most 10 kHz here, as is each recording's);
- ``default_tags``.

The module is driven by ``start_capture``/``stop_capture`` commands. Here a dmsim-only
attribute scripts them: ``recordings``, ``[{"start_s": 60, "stop_s": 90, "frequency_hz": 2,
"tags": ["run-1"]}, ...]``, in seconds since the device was created: the start of a simulated
run (simulated devices outlive a crash of the machine), or the start of ``dmsim machine`` (a
restart starts the script again, as a restarted module forgets its recording). A recording
without ``frequency_hz`` or ``tags`` takes the defaults, as ``start_capture`` does; after it
stops the frequency is 0 and its tags stay, as after ``stop_capture``.

``Readings`` returns what the module returns: ``{"overrides": [...], "sequences": [...]}``,
one override per resource (``tags`` only when there are some) and one open sequence while
recording. Point the data manager at it with ``"capture_control_sensor": {"name": ...,
"key": "overrides"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import RngTree, Runtime, Trace

from ._params import attr_float
from ._readings import Reading, TabularReading
from ._sim import ReadRequest, SimDevice

__all__ = ["CAPTURE_CONTROL_MODEL", "SimCaptureControl"]

#: The model's name (the last part of the module's model triple).
CAPTURE_CONTROL_MODEL = "capture-control-sensor"
# A simulation serves every tick; this keeps a scripted recording within what a run can serve
# (the config's own rates are checked against the tick budget before a run starts).
MAX_HZ = 10_000.0


@dataclass(frozen=True, slots=True)
class _Recording:
    start_s: float
    stop_s: float
    frequency_hz: float
    tags: tuple[str, ...]


class SimCaptureControl(SimDevice):
    TYPE = "sensor"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = CAPTURE_CONTROL_MODEL,
        latency_s: float = 0.0,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        attrs = attributes or {}
        source = f"{self.label} attributes"
        self._resources = _resources(attrs.get("resources"), source)
        self._default_hz = attr_float(
            attrs, "default_capture_frequency_hz", source=source, default=0.0, low=0.0,
            high=MAX_HZ,
        )  # fmt: skip
        self._default_tags = _tags(attrs.get("default_tags", []), "default_tags", source)
        self._recordings = _recordings(
            attrs.get("recordings", []), source, self._default_hz, self._default_tags
        )
        self._origin = rt.monotonic()

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        hz, tags, recording = self._state(req.now.t - self._origin)
        overrides = []
        for resource_name, method in self._resources:
            override: dict[str, Any] = {
                "resource_name": resource_name,
                "method": method,
                "capture_frequency_hz": hz,
            }
            if tags:
                override["tags"] = list(tags)
            overrides.append(override)
        resources = [{"resource_name": r, "method": m} for r, m in self._resources]
        sequences = [{"resources": resources, "sequence_tags": list(tags)}] if recording else []
        return (TabularReading({"readings": {"overrides": overrides, "sequences": sequences}}),)

    def _state(self, t: float) -> tuple[float, tuple[str, ...], bool]:
        """(frequency, tags, recording) at ``t`` seconds since the device was created."""
        hz, tags = self._default_hz, self._default_tags
        for recording in self._recordings:
            if t < recording.start_s:
                break
            if t < recording.stop_s:
                return recording.frequency_hz, recording.tags, True
            hz, tags = 0.0, recording.tags  # stop_capture: frequency 0, tags kept
        return hz, tags, False


def _problem(source: str, where: str, message: str) -> ConfigError:
    return ConfigError(Problem(f"attributes.{where}", message), source=source)


def _resources(raw: object, source: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise _problem(source, "resources", "required: a list of {resource_name, method}")
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise _problem(source, f"resources[{index}]", f"must be an object, got {item!r}")
        pair = []
        for field in ("resource_name", "method"):
            value = item.get(field)
            if not isinstance(value, str) or not value:
                raise _problem(source, f"resources[{index}].{field}", "required")
            pair.append(value)
        out.append((pair[0], pair[1]))
    return tuple(out)


def _tags(raw: object, where: str, source: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(tag, str) for tag in raw):
        raise _problem(source, where, f"must be a list of strings, got {raw!r}")
    return tuple(raw)


def _recordings(
    raw: object, source: str, default_hz: float, default_tags: tuple[str, ...]
) -> tuple[_Recording, ...]:
    if not isinstance(raw, list):
        raise _problem(source, "recordings", f"must be a list, got {raw!r}")
    out: list[_Recording] = []
    for index, item in enumerate(raw):
        where = f"recordings[{index}]"
        if not isinstance(item, Mapping):
            raise _problem(source, where, f"must be an object, got {item!r}")
        unknown = sorted(set(item) - {"start_s", "stop_s", "frequency_hz", "tags"})
        if unknown:
            raise _problem(source, f"{where}.{unknown[0]}", "unknown key")
        for required in ("start_s", "stop_s"):
            if required not in item:
                raise _problem(source, f"{where}.{required}", "required (seconds from the start)")
        start = attr_float(item, "start_s", source=f"{source} {where}", default=0.0, low=0.0)
        stop = attr_float(item, "stop_s", source=f"{source} {where}", default=0.0, low=0.0)
        if stop <= start:
            raise _problem(source, f"{where}.stop_s", f"must be after start_s ({start:g})")
        if out and start < out[-1].stop_s:
            raise _problem(
                source,
                f"{where}.start_s",
                f"starts before recordings[{index - 1}] stops ({out[-1].stop_s:g}); "
                "recordings must be in order and must not overlap",
            )
        hz = attr_float(
            item, "frequency_hz", source=f"{source} {where}", default=default_hz, low=0.0,
            high=MAX_HZ,
        )  # fmt: skip
        tags = _tags(item["tags"], f"{where}.tags", source) if "tags" in item else default_tags
        out.append(_Recording(start, stop, hz, tags))
    return tuple(out)
