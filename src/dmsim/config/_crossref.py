"""Checks across the whole config: names that must be unique, names that must resolve.

- Component and service names share one namespace (``depends_on`` and ``camera_name`` refer to
  resources by name alone), remotes and modules have their own; a repeat is an error.
- Two capture methods with the same resource, method and ``additional_params`` would write the
  same files: an error.
- A vision ``CaptureAllFromCamera`` must name a camera of this part (or ``remote:name`` on a
  configured remote); ``selective_syncer_name`` and ``capture_control_sensor.name`` must name a
  sensor likewise. ``depends_on`` naming nothing known is only a warning: rdk resolves some
  dependencies implicitly.
- A board's ``Analogs`` ``reader_name`` and ``Gpios`` ``pin_name`` must be declared in its
  attributes, when it declares any (see :func:`_board_params`).
- Capture methods without a data_manager service capture nothing: a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from ._jsonpos import JsonPath, JsonValue, format_path
from ._model import ComponentConfig, MachineConfig, ServiceConfig
from ._reader import Reader

__all__ = ["check_references"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def json_path(self) -> JsonPath: ...


def check_references(reader: Reader, config: MachineConfig) -> None:
    resources: list[ComponentConfig | ServiceConfig] = [*config.components, *config.services]
    _unique(reader, resources, "resource")
    _unique(reader, config.remotes, "remote")
    _unique(reader, config.modules, "module")
    _unique_collectors(reader, config)
    _camera_names(reader, config)
    _board_params(reader, config)
    _sensor_names(reader, config)
    _dependencies(reader, config)
    methods = config.capture_methods()
    if config.data_manager is None and methods:
        reader.warn(
            ("services",),
            f"no data_manager service: the {len(methods)} capture method(s) capture nothing",
        )


def _unique(reader: Reader, items: Iterable[_Named], what: str) -> None:
    first: dict[str, JsonPath] = {}
    for item in items:
        if not item.name:
            continue
        if item.name in first:
            reader.error(
                (*item.json_path, "name"),
                f"duplicate {what} name {item.name!r} (also {format_path(first[item.name])})",
            )
        else:
            first[item.name] = item.json_path


def _unique_collectors(reader: Reader, config: MachineConfig) -> None:
    first: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
    for method in config.capture_methods():
        key = (str(method.resource), method.method, tuple(method.additional_params.items()))
        if key in first:
            reader.error(
                method.json_path,
                f"captures {method.method} of {method.resource} with the same additional_params "
                f"as {first[key]}: the two would write the same files",
            )
        else:
            first[key] = method.path


def _resolve(
    reader: Reader,
    config: MachineConfig,
    name: str,
    path: JsonPath,
    wanted: str,
) -> None:
    """Report unless ``name`` is a local component of type ``wanted`` or ``remote:name``."""
    remote, sep, _ = name.partition(":")
    if sep:
        if remote not in {r.name for r in config.remotes}:
            reader.error(path, f"{name!r} names no configured remote ({remote!r})")
        return
    found: ComponentConfig | None = next((c for c in config.components if c.name == name), None)
    if found is None:
        local = sorted(c.name for c in config.components if c.type == wanted)
        known = f"; {wanted}s here: {', '.join(local)}" if local else f"; there is no {wanted}"
        reader.error(path, f"{name!r} names no {wanted} in this config{known}")
    elif found.type != wanted:
        reader.error(path, f"{name!r} is a {found.type}, not a {wanted}")


def _camera_names(reader: Reader, config: MachineConfig) -> None:
    for owner in config.services:
        for method in owner.capture_methods:
            camera = method.additional_params.get("camera_name")
            if method.method == "CaptureAllFromCamera" and camera:
                where = (*method.json_path, "additional_params", "camera_name")
                _resolve(reader, config, camera, where, "camera")


def _board_params(reader: Reader, config: MachineConfig) -> None:
    """Only names that both the simulated and a real board refuse are errors.

    A board that declares no analogs (no pins) reads any reader (pin) name in simulation, so
    nothing is checked against an empty list, although a real board refuses undeclared analog
    readers. A real ESP32 (micro-RDK) reads the GPIO of each ``pins`` and ``digital_interrupts``
    pin and refuses others; so does the simulated board. Malformed attributes are left to the
    board, which reports them with their path when it is built.
    """
    for board in config.components:
        if board.type != "board":
            continue
        analogs = _declared(board.attributes.get("analogs"), "name")
        pins = _declared(board.attributes.get("pins"))
        pins += _declared(board.attributes.get("digital_interrupts"), "pin")
        for method in board.capture_methods:
            params = (*method.json_path, "additional_params")
            name = method.additional_params.get("reader_name")
            if method.method == "Analogs" and analogs and name and name not in analogs:
                reader.error(
                    (*params, "reader_name"),
                    f"{name!r} names no analog reader of board {board.name!r}; "
                    f"its analogs: {', '.join(analogs)}",
                )
            pin = method.additional_params.get("pin_name")
            if method.method == "Gpios" and pins and pin and pin not in pins:
                reader.error(
                    (*params, "pin_name"),
                    f"{pin!r} names no GPIO pin of board {board.name!r}; "
                    f"its pins: {', '.join(pins)}",
                )


def _declared(items: JsonValue | None, key: str | None = None) -> list[str]:
    """The names a board attribute declares (``items[i][key]``, or ``items[i]`` without a key),
    in order; none if it is not a list of them."""
    if not isinstance(items, list):
        return []
    names = items
    if key is not None:
        names = [item.get(key) if isinstance(item, Mapping) else None for item in items]
    if not all(isinstance(n, int | str) and not isinstance(n, bool) for n in names):
        return []
    return list(dict.fromkeys(str(n) for n in names))


def _sensor_names(reader: Reader, config: MachineConfig) -> None:
    dm = config.data_manager
    if dm is None:
        return
    if dm.selective_syncer_name:
        where = (*dm.json_path, "selective_syncer_name")
        _resolve(reader, config, dm.selective_syncer_name, where, "sensor")
    if dm.capture_control_sensor.name:
        where = (*dm.json_path, "capture_control_sensor", "name")
        _resolve(reader, config, dm.capture_control_sensor.name, where, "sensor")


def _dependencies(reader: Reader, config: MachineConfig) -> None:
    owners: tuple[ComponentConfig | ServiceConfig, ...] = (*config.components, *config.services)
    known = {r.name for r in owners}
    remotes = {r.name for r in config.remotes}
    for owner in owners:
        for index, dependency in enumerate(owner.depends_on):
            # "esp-home" and "esp-home:my-esp32" both resolve through the remote
            if dependency not in known and dependency.partition(":")[0] not in remotes:
                reader.warn(
                    (*owner.json_path, "depends_on", index),
                    f"{dependency!r} names no resource or remote in this config",
                )
