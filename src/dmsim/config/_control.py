"""The capture control sensor (``capture_control_sensor``): capture settings read from a sensor.

The data manager polls the sensor's ``Readings`` ten times a second (rdk
``capturePollFrequency``). Under the configured ``key`` the reading holds a list of overrides::

    {"overrides": [{"resource_name": "cam", "method": "GetImages",
                    "capture_frequency_hz": 2, "tags": ["run-1"]}, ...]}

What an override does, as in rdk (``capture/capture_control.go``):

- ``capture_frequency_hz`` replaces the collector's frequency; 0 stops it. It also turns a
  method configured ``disabled`` back on, since rdk recomputes ``disabled`` from the frequency.
- ``tags`` replace the collector's tags, the data manager's and the method's alike; ``[]``
  clears them, a missing or null ``tags`` keeps them.
- A (resource, method) pair with no capture method configured is captured anyway
  (*auto-enable*) when the machine has a resource of that name whose API captures that method
  without ``additional_params`` (so board ``Analogs``/``Gpios`` and camera ``ReadImage`` cannot
  be enabled this way); anything else is skipped with a note for the log.
- Entries are matched by the resource's short name (``remote:name`` for a remote resource) and
  the method; a later entry for the same pair wins.

Under the fixed key ``sequences`` the reading lists the sequences open now, each
``{"resources": [{"resource_name", "method"}], "sequence_tags": [...]}``: a sequence opens
when its entry first appears and closes when it is gone (:func:`parse_control_sequences`;
entries with no resources are dropped, as rdk does).

A missing key, ``null`` or an empty list means no overrides: every collector runs as
configured. A list that does not parse raises :class:`ControlReadingError` naming the entry and
field; the data manager then reverts every collector too (rdk does the same), so a broken
sensor can never leave capture in a half-applied state. Unlike rdk, a negative frequency, a
non-finite one or a tag outside the tag alphabet is such an error rather than passed through.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ._attributes import TAG_PATTERN
from ._collectors import CollectorSpec
from ._methods import method_spec
from ._model import (
    CaptureMethodConfig,
    ComponentConfig,
    MachineConfig,
    ResourceRef,
    ServiceConfig,
)

__all__ = [
    "SEQUENCES_KEY",
    "ControlOverride",
    "ControlReadingError",
    "Overrides",
    "SequenceReading",
    "controlled_specs",
    "parse_control_overrides",
    "parse_control_sequences",
]

#: Where a capture control sensor lists its open sequences (rdk ``datamanager.SequencesKey``).
SEQUENCES_KEY = "sequences"


class ControlReadingError(ValueError):
    """The control sensor's reading under ``key`` is not a list of overrides."""


@dataclass(frozen=True, slots=True)
class ControlOverride:
    """One override; ``None`` fields leave the collector's own setting alone."""

    resource_name: str
    method: str
    capture_frequency_hz: float | None = None
    tags: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"resource_name": self.resource_name, "method": self.method}
        if self.capture_frequency_hz is not None:
            out["capture_frequency_hz"] = self.capture_frequency_hz
        if self.tags is not None:
            out["tags"] = list(self.tags)
        return out


#: Overrides by (resource short name, method), as :func:`parse_control_overrides` returns them.
Overrides = Mapping[tuple[str, str], ControlOverride]


def parse_control_overrides(
    readings: Mapping[str, object], key: str
) -> dict[tuple[str, str], ControlOverride]:
    """The overrides in ``readings[key]``, keyed by (resource short name, method); empty when
    the key is absent, null or an empty list. Raises :class:`ControlReadingError`."""
    raw = readings.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, list | tuple):
        raise ControlReadingError(f"{key}: expected a list of overrides, got {_kind(raw)}")
    out: dict[tuple[str, str], ControlOverride] = {}
    for index, item in enumerate(raw):
        override = _override(item, f"{key}[{index}]")
        out[(override.resource_name, override.method)] = override
    return out


@dataclass(frozen=True, slots=True)
class SequenceReading:
    """One open sequence as the sensor reports it: (resource name, method) pairs and tags."""

    resources: tuple[tuple[str, str], ...]
    tags: tuple[str, ...] = ()

    @property
    def identity(self) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
        """Order-free, as rdk keys open sequences: the same entry keeps its sequence open."""
        return tuple(sorted(self.resources)), tuple(sorted(self.tags))


def parse_control_sequences(readings: Mapping[str, object]) -> tuple[SequenceReading, ...]:
    """The sequences open now (``readings["sequences"]``); empty when absent or null. Raises
    :class:`ControlReadingError` naming the entry and field."""
    raw = readings.get(SEQUENCES_KEY)
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise ControlReadingError(f"{SEQUENCES_KEY}: expected a list, got {_kind(raw)}")
    out = []
    for index, item in enumerate(raw):
        where = f"{SEQUENCES_KEY}[{index}]"
        if not isinstance(item, Mapping):
            raise ControlReadingError(f"{where}: expected an object, got {_kind(item)}")
        resources = item.get("resources") or []
        if not isinstance(resources, list | tuple):
            raise ControlReadingError(f"{where}.resources: expected a list")
        pairs = []
        for position, entry in enumerate(resources):
            if not isinstance(entry, Mapping):
                raise ControlReadingError(f"{where}.resources[{position}]: expected an object")
            names = (entry.get("resource_name"), entry.get("method"))
            if not all(isinstance(name, str) and name for name in names):
                raise ControlReadingError(
                    f"{where}.resources[{position}]: needs resource_name and method"
                )
            pairs.append((str(names[0]), str(names[1])))
        tags = item.get("sequence_tags") or []
        if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
            raise ControlReadingError(f"{where}.sequence_tags: expected a list of strings")
        if pairs:  # rdk drops entries with no resources
            out.append(SequenceReading(tuple(pairs), tuple(tags)))
    return tuple(out)


def _override(item: object, where: str) -> ControlOverride:
    if not isinstance(item, Mapping):
        raise ControlReadingError(f"{where}: expected an object, got {_kind(item)}")
    names = []
    for field in ("resource_name", "method"):
        value = item.get(field)
        if not isinstance(value, str) or not value:
            raise ControlReadingError(f"{where}.{field}: required, a non-empty string")
        names.append(value)
    hz = item.get("capture_frequency_hz")
    if hz is not None and (
        isinstance(hz, bool) or not isinstance(hz, int | float) or not math.isfinite(hz) or hz < 0
    ):
        raise ControlReadingError(
            f"{where}.capture_frequency_hz: must be a number >= 0 (0 stops capture), not {hz!r}"
        )
    raw_tags = item.get("tags")
    tags: tuple[str, ...] | None = None
    if raw_tags is not None:
        if not isinstance(raw_tags, list | tuple):
            raise ControlReadingError(
                f"{where}.tags: expected a list of tags, got {_kind(raw_tags)}"
            )
        for position, tag in enumerate(raw_tags):
            if not isinstance(tag, str) or not TAG_PATTERN.fullmatch(tag):
                raise ControlReadingError(
                    f"{where}.tags[{position}]: {tag!r} is not a tag (letters, digits, _ and -)"
                )
        tags = tuple(raw_tags)
    return ControlOverride(names[0], names[1], None if hz is None else float(hz), tags)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def controlled_specs(
    machine: MachineConfig, overrides: Overrides
) -> tuple[tuple[CollectorSpec, ...], tuple[str, ...]]:
    """The collectors ``machine`` runs under ``overrides``, and a note for each override that
    could not be applied. With no overrides this is :func:`collector_specs`."""
    manager = machine.data_manager
    if manager is None or manager.capture_disabled:
        return (), ()
    specs: list[CollectorSpec] = []
    configured: set[tuple[str, str]] = set()
    for method in machine.capture_methods():
        spec = CollectorSpec.from_method(method, service_tags=manager.tags)
        pair = (spec.resource.short_name, spec.method)
        configured.add(pair)
        override = overrides.get(pair)
        enabled = method.enabled
        if override is not None:
            spec, enabled = _apply(spec, enabled, override)
        if enabled:
            specs.append(spec)
    notes = []
    resources = _resources_by_short_name(machine)
    for pair, override in overrides.items():
        if pair in configured:
            continue
        base, note = _auto_enabled(resources.get(pair[0]), override, manager.tags)
        if base is None:
            notes.append(note)
            continue
        spec, enabled = _apply(base, False, override)
        if enabled:
            specs.append(spec)
    return tuple(specs), tuple(notes)


def _apply(
    spec: CollectorSpec, enabled: bool, override: ControlOverride
) -> tuple[CollectorSpec, bool]:
    if override.capture_frequency_hz is not None:
        spec = replace(spec, capture_frequency_hz=override.capture_frequency_hz)
        enabled = override.capture_frequency_hz > 0
    if override.tags is not None:
        spec = replace(spec, tags=override.tags)
    return spec, enabled


def _resources_by_short_name(machine: MachineConfig) -> dict[str, ResourceRef]:
    """Every resource the machine knows by name: components and services, then the remote
    resources its capture methods name (first one wins, as config order decides elsewhere)."""
    out: dict[str, ResourceRef] = {}
    owners: tuple[ComponentConfig | ServiceConfig, ...] = (*machine.components, *machine.services)
    for owner in owners:
        out.setdefault(owner.name, ResourceRef(owner.api, owner.name))
    for method in machine.capture_methods():
        out.setdefault(method.resource.short_name, method.resource)
    return out


def _auto_enabled(
    ref: ResourceRef | None, override: ControlOverride, service_tags: Sequence[str]
) -> tuple[CollectorSpec | None, str]:
    what = f"{override.resource_name}/{override.method}"
    if ref is None:
        return None, f"{what}: no resource named {override.resource_name!r}; skipped"
    known = method_spec(ref.api, override.method)
    if known is None:
        return None, f"{what}: {ref.api} has no capture method {override.method!r}; skipped"
    needed = [param.name for param in known.params if param.required]
    if needed:
        return None, (
            f"{what}: needs additional_params ({', '.join(needed)}), which only the machine "
            "config can give; skipped"
        )
    # A method configured with nothing but its name: every other setting at its default.
    method = CaptureMethodConfig(resource=ref, method=override.method, capture_frequency_hz=0.0)
    spec = CollectorSpec.from_method(method, service_tags=tuple(service_tags))
    return replace(spec, config_path=f"capture_control_sensor: {what}"), ""
