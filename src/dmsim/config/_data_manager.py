"""Parsing the ``data_manager`` service's attributes into a :class:`DataManagerConfig`.

Numbers are checked against the ranges in :data:`DATA_MANAGER_ATTRIBUTES`. Where rdk reads a 0
as "unset" (Go's zero value), or a ``sync_interval_mins`` below 0.0001, and quietly substitutes
the default, dmsim does the same but says so with a warning; every other out-of-range value,
and every negative one, is an error (rdk accepts most of them silently).
``maximum_capture_file_size_bytes`` of 0 is an error: rdk would cut one file per reading
(rdk#5962). ``capture_dir`` "" means the default, ``$VIAM_HOME/capture`` or
``~/.viam/capture``; a leading ``~`` is expanded with the injected environment's ``HOME``.
``capture_dir`` and ``additional_sync_paths`` must then be absolute.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from typing import Any, cast

from ._attributes import ATTRIBUTE_SPECS, DATA_MANAGER_ATTRIBUTES, TAG_PATTERN, AttributeSpec
from ._jsonpos import JsonPath
from ._model import CaptureControlSensorConfig, DataManagerConfig, MongoCaptureConfig
from ._reader import Reader

__all__ = [
    "default_capture_dir",
    "default_sync_threads",
    "parse_data_manager",
    "parse_tags",
    "state_dir",
]

_IGNORED = {
    "retention_policy": "it belongs in a resource's data_manager service_configs entry",
    "sync_interval_minutes": "the attribute is named sync_interval_mins (a typo in the docs)",
}


def default_sync_threads(cpu_count: int) -> int:
    """Half the CPUs, never fewer than one (rdk has no floor: 1 CPU gave 0 workers)."""
    return max(1, cpu_count // 2)


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def _expand(path: str, env: Mapping[str, str]) -> str:
    if path == "~" or path.startswith("~/"):
        return _home(env) + path[1:]
    return os.path.expanduser(path) if path.startswith("~") else path


def _viam_home(env: Mapping[str, str]) -> str:
    """``$VIAM_HOME``, or ``~/.viam`` when it is unset (like rdk)."""
    return _expand(env.get("VIAM_HOME") or posixpath.join(_home(env), ".viam"), env)


def default_capture_dir(env: Mapping[str, str]) -> str:
    """``$VIAM_HOME/capture``, or ``~/.viam/capture`` when VIAM_HOME is unset (like rdk)."""
    return posixpath.join(_viam_home(env), "capture")


def state_dir(env: Mapping[str, str]) -> str:
    """Where dmsim keeps its own state on this host: ``$VIAM_HOME/dmsim``."""
    return posixpath.join(_viam_home(env), "dmsim")


def _scalar(
    reader: Reader, attrs: Mapping[str, object], path: JsonPath, spec: AttributeSpec
) -> object:
    name = spec.name
    if spec.kind == "bool":
        return reader.boolean(attrs, name, path, bool(spec.default))
    if spec.kind == "string":
        return reader.string(attrs, name, path, str(spec.default))
    if spec.kind == "int":
        value: float | None = reader.integer(attrs, name, path, None)
    else:
        value = reader.number(attrs, name, path, None)
    if value is None:
        return spec.default
    shown = "half the CPUs" if spec.default is None else spec.default
    if value == 0 and spec.zero_is_unset:
        reader.warn((*path, name), f"0 means unset (as in rdk): the default ({shown}) is used")
        return spec.default
    if spec.unset_below is not None and 0 < value < spec.unset_below:
        reader.warn(
            (*path, name),
            f"{value:g} is below {spec.unset_below:g}, which means unset (as in rdk): "
            f"the default ({shown}) is used",
        )
        return spec.default
    problem = spec.range_problem(value)
    if problem is not None:
        reader.error((*path, name), f"{problem}, got {value:g}")
        return spec.default
    return value


def parse_tags(reader: Reader, obj: Mapping[str, object], path: JsonPath) -> tuple[str, ...]:
    tags = []
    for index, tag in enumerate(reader.strings(obj, "tags", path)):
        if TAG_PATTERN.fullmatch(tag):
            tags.append(tag)
        else:
            reader.error(
                (*path, "tags", index),
                f"tag {tag!r} may only contain letters, digits, underscores and dashes",
            )
    return tuple(dict.fromkeys(tags))


def parse_data_manager(
    reader: Reader,
    name: str,
    attrs: Mapping[str, object],
    path: JsonPath,
    *,
    env: Mapping[str, str],
    cpu_count: int,
) -> DataManagerConfig:
    """The effective data manager config of one ``data_manager`` service's attributes."""
    reader.unknown_keys(attrs, path, ATTRIBUTE_SPECS, ignored=_IGNORED)
    values: dict[str, object] = {}
    for spec in DATA_MANAGER_ATTRIBUTES:  # table order, so problems come in a stable order
        values[spec.name] = _attribute(reader, attrs, path, spec, env)
    capture_dir = str(values["capture_dir"])
    values["capture_dir"] = _expand(capture_dir, env) if capture_dir else default_capture_dir(env)
    if values["maximum_num_sync_threads"] is None:
        values["maximum_num_sync_threads"] = default_sync_threads(cpu_count)
    initial, cap = values["sync_backoff_initial_ms"], values["sync_backoff_max_ms"]
    if isinstance(initial, int) and isinstance(cap, int) and initial > cap:
        reader.error(
            (*path, "sync_backoff_max_ms"),
            f"must be at least sync_backoff_initial_ms ({initial}), got {cap}",
        )
    explicit = frozenset(k for k in attrs if k in ATTRIBUTE_SPECS and attrs[k] is not None)
    # each value was read with the type its table entry names
    return DataManagerConfig(name=name, explicit=explicit, json_path=path, **cast(Any, values))


def _attribute(
    reader: Reader,
    attrs: Mapping[str, object],
    path: JsonPath,
    spec: AttributeSpec,
    env: Mapping[str, str],
) -> object:
    if spec.name == "tags":
        return parse_tags(reader, attrs, path)
    if spec.name == "additional_sync_paths":
        items = attrs.get(spec.name)
        for index, item in enumerate(items if isinstance(items, list) else []):
            _require_absolute(reader, (*path, spec.name, index), item, env)
        return tuple(_expand(p, env) for p in reader.strings(attrs, spec.name, path))
    if spec.name == "mongo_capture_config":
        return _mongo(reader, attrs, path)
    if spec.name == "capture_control_sensor":
        return _control_sensor(reader, attrs, path)
    if spec.name == "capture_dir" and attrs.get(spec.name):  # "" means the default
        _require_absolute(reader, (*path, spec.name), attrs[spec.name], env)
    return _scalar(reader, attrs, path, spec)


def _require_absolute(
    reader: Reader, where: JsonPath, value: object, env: Mapping[str, str]
) -> None:
    # The sync engine refuses a relative path (it would depend on the working directory):
    # refusing it here, in the same words, makes config check say what the run would.
    if isinstance(value, str) and not posixpath.isabs(_expand(value, env)):
        reader.error(where, f"must be an absolute path, got {value!r}")


def _mongo(reader: Reader, attrs: Mapping[str, object], path: JsonPath) -> MongoCaptureConfig:
    where = (*path, "mongo_capture_config")
    obj = reader.mapping(attrs.get("mongo_capture_config"), where)
    if obj is None:
        return MongoCaptureConfig()
    reader.unknown_keys(obj, where, ("uri", "database", "collection"))
    default = MongoCaptureConfig()
    uri = reader.string(obj, "uri", where)
    if uri and not uri.startswith(("mongodb://", "mongodb+srv://")):
        reader.error((*where, "uri"), f"must start with mongodb:// or mongodb+srv://, got {uri!r}")
    return MongoCaptureConfig(
        uri=uri,
        database=reader.string(obj, "database", where) or default.database,
        collection=reader.string(obj, "collection", where) or default.collection,
    )


def _control_sensor(
    reader: Reader, attrs: Mapping[str, object], path: JsonPath
) -> CaptureControlSensorConfig:
    where = (*path, "capture_control_sensor")
    obj = reader.mapping(attrs.get("capture_control_sensor"), where)
    if obj is None:
        return CaptureControlSensorConfig()
    reader.unknown_keys(obj, where, ("name", "key"))
    config = CaptureControlSensorConfig(
        name=reader.string(obj, "name", where), key=reader.string(obj, "key", where)
    )
    if config.name and not config.key:
        reader.error((*where, "key"), "required when capture_control_sensor.name is set")
    return config
