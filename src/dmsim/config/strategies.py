"""Hypothesis strategies for valid machine configs, as JSON-ready dicts.

``machine_configs()`` draws configs that :func:`dmsim.config.parse_machine_config` accepts with
no error and no warning: components of every capturing type with valid methods and parameters,
an optional vision service reading one of the cameras, remotes whose capture methods name remote
resources, modules, and one data_manager service with a random valid subset of its attributes
(dmsim's extensions included). Use them to fuzz anything that consumes a config::

    @given(machine_configs())
    def test_capture_engine_accepts(config_dict): ...

Strategies are built once, outside the draws: building them per draw made generation ~10×
slower (Hypothesis validates every new strategy object).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ._attributes import DATA_MANAGER_ATTRIBUTES, AttributeSpec
from ._methods import METHODS, MethodSpec, ParamSpec

__all__ = ["capture_methods", "data_manager_attributes", "machine_configs", "names", "tags"]

_COMPONENT_APIS = sorted(api for api in METHODS if ":component:" in api)
_FIRST = "abcdefghijklmnopqrstuvwxyz0123456789"
_REST = _FIRST + "-_"
_SPECIAL = {"capture_dir", "tags", "additional_sync_paths", "maximum_num_sync_threads"}

_NAMES = st.builds(
    str.__add__, st.sampled_from(_FIRST), st.text(st.sampled_from(_REST), max_size=11)
)
_TAGS = st.lists(st.text(st.sampled_from(_REST + "ABCXYZ"), min_size=1, max_size=10), max_size=3)
_ABS_PATHS = st.lists(_NAMES, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
_RETENTION = st.dictionaries(
    st.sampled_from(["days", "binary_limit_gb", "tabular_limit_gb"]),
    st.integers(1, 3650),
    min_size=1,
)
_OPTIONAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "disabled": st.booleans(),
    "cache_size_kb": st.floats(0.5, 1024.0),
    "capture_queue_size": st.integers(0, 10_000),
    "capture_buffer_size": st.integers(0, 1 << 20),
    "tags": _TAGS,
    "retention_policy": _RETENTION,
}
_OPTIONAL_KEYS = st.sets(st.sampled_from(sorted(_OPTIONAL_FIELDS)))
_FREQUENCIES = st.floats(0.001, 1000.0)


def names() -> st.SearchStrategy[str]:
    """Resource names: a letter or digit, then letters, digits, ``-`` and ``_``."""
    return _NAMES


def tags() -> st.SearchStrategy[list[str]]:
    """Valid tag lists (letters, digits, ``_`` and ``-``)."""
    return _TAGS


def _param_value(param: ParamSpec) -> st.SearchStrategy[str]:
    if param.choices:
        return st.sampled_from(param.choices)
    if param.number_range is not None:
        low, high = param.number_range
        return st.floats(low, high).map(lambda x: f"{x:.3f}")
    return _NAMES


@st.composite
def _method(
    draw: st.DrawFn, spec: MethodSpec, values: dict[str, st.SearchStrategy[str]]
) -> dict[str, Any]:
    params = {}
    for param in spec.params:
        # camera_name depends on the machine's cameras: capture_methods() fills it in
        if param.name in values and (param.required or draw(st.booleans())):
            params[param.name] = draw(values[param.name])
    if draw(st.booleans()):  # parameters a method does not know are passed through
        params["note"] = draw(_NAMES)
    method: dict[str, Any] = {
        "method": spec.method,
        "capture_frequency_hz": draw(_FREQUENCIES),
        "additional_params": params,
    }
    for key in sorted(draw(_OPTIONAL_KEYS)):
        method[key] = draw(_OPTIONAL_FIELDS[key])
    return method


def _methods_of(api: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    specs = sorted(METHODS[api].values(), key=lambda s: s.method)
    strategies = []
    for spec in specs:
        values = {p.name: _param_value(p) for p in spec.params if p.name != "camera_name"}
        strategies.append(_method(spec, values))
    indices = st.lists(st.integers(0, len(specs) - 1), unique=True, max_size=len(specs))
    return indices.flatmap(lambda chosen: st.tuples(*(strategies[i] for i in chosen)).map(list))


_BY_API = {api: _methods_of(api) for api in METHODS}


def capture_methods(
    api: str, *, camera_names: list[str] | None = None, resource_name: str = ""
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Valid, distinct ``capture_methods`` entries for a resource of API ``api``.

    ``resource_name`` (``rdk:component:board/x``) is set as each entry's ``name``, as under a
    remote. Methods that need a ``camera_name`` draw it from ``camera_names`` (none without).
    """
    cameras = sorted(camera_names or [])
    needs_camera = any(p.name == "camera_name" for s in METHODS[api].values() for p in s.params)
    if needs_camera and not cameras:
        return st.just([])

    @st.composite
    def finish(draw: st.DrawFn) -> list[dict[str, Any]]:
        methods = draw(_BY_API[api])
        for method in methods:
            if needs_camera:
                method["additional_params"]["camera_name"] = draw(st.sampled_from(cameras))
            if resource_name:
                method["name"] = resource_name
        return methods

    return finish()


def _service_configs(methods: list[dict[str, Any]], shared: dict[str, int] | None) -> list[Any]:
    if not methods:
        return []
    attributes: dict[str, Any] = {"capture_methods": methods}
    if shared:
        attributes["retention_policy"] = shared
    return [{"type": "data_manager", "attributes": attributes}]


def _scalar(spec: AttributeSpec) -> st.SearchStrategy[Any]:
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "string":
        return st.just("")  # names of other resources are drawn by the caller
    low = spec.low if spec.low is not None else 0.0
    if spec.zero_is_unset or spec.low_open:
        low = max(low, 1.0 if spec.kind == "int" else 1e-3)
    high = spec.high if spec.high is not None else low + 1e6
    if spec.kind == "int":
        return st.integers(int(low), int(high))
    return st.floats(low, high, exclude_max=spec.high_open)


_SCALARS = {
    spec.name: _scalar(spec)
    for spec in DATA_MANAGER_ATTRIBUTES
    if spec.name not in _SPECIAL and spec.kind != "object"
}
_SPECIALS: dict[str, st.SearchStrategy[Any]] = {
    "capture_dir": st.one_of(st.just(""), _ABS_PATHS),
    "tags": _TAGS,
    "additional_sync_paths": st.lists(_ABS_PATHS, max_size=3),
    "maximum_num_sync_threads": st.integers(1, 1000),
    "mongo_capture_config": st.just({"uri": "mongodb://127.0.0.1:27017", "database": "d"}),
}
_ATTRIBUTE_KEYS = st.sets(st.sampled_from([s.name for s in DATA_MANAGER_ATTRIBUTES]))


@st.composite
def data_manager_attributes(
    draw: st.DrawFn, *, sensor_names: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A random valid subset of the data_manager attributes (extensions included).

    ``selective_syncer_name`` and ``capture_control_sensor`` are only drawn when
    ``sensor_names`` offers sensors to name.
    """
    attrs: dict[str, Any] = {}
    for name in sorted(draw(_ATTRIBUTE_KEYS)):
        if name in _SCALARS:
            attrs[name] = draw(_SCALARS[name])
        elif name in _SPECIALS:
            attrs[name] = draw(_SPECIALS[name])
        elif sensor_names and name == "selective_syncer_name":
            attrs[name] = draw(st.sampled_from(sensor_names))
        elif sensor_names and name == "capture_control_sensor":
            attrs[name] = {"name": draw(st.sampled_from(sensor_names)), "key": "k"}
    initial = attrs.get("sync_backoff_initial_ms", 200)
    if initial > attrs.get("sync_backoff_max_ms", 3_600_000):
        attrs["sync_backoff_max_ms"] = initial
    return attrs


_MODELS = st.sampled_from(["fake", "webcam", "esp32", "tmp36"])
_ATTRIBUTES = st.dictionaries(_NAMES, st.integers() | _NAMES, max_size=2)


@st.composite
def machine_configs(
    draw: st.DrawFn, *, max_components: int = 6, max_remotes: int = 2
) -> dict[str, Any]:
    """A valid machine config dict (see the module docstring)."""
    # a few drawn stems numbered apart: unique names without a draw per name
    stems = draw(st.lists(_NAMES, min_size=1, max_size=3))
    size = max_components + max_remotes + 3
    pool = [f"{stems[i % len(stems)]}-{i}" for i in range(size)]
    apis = draw(st.lists(st.sampled_from(_COMPONENT_APIS), max_size=max_components))
    components: list[dict[str, Any]] = []
    for index, api in enumerate(apis):
        depends = draw(st.lists(st.sampled_from(pool[:index]), max_size=1)) if index else []
        methods = draw(_BY_API[api])
        components.append({
            "name": pool[index], "namespace": "rdk", "type": api.rsplit(":", 1)[1],
            "model": draw(_MODELS), "attributes": draw(_ATTRIBUTES), "depends_on": depends,
            "service_configs": _service_configs(methods, draw(st.none() | _RETENTION)),
        })  # fmt: skip
    sensors = tuple(c["name"] for c in components if c["type"] == "sensor")
    cameras = [c["name"] for c in components if c["type"] == "camera"]
    attributes = draw(data_manager_attributes(sensor_names=sensors))
    services: list[dict[str, Any]] = [
        {"name": pool[-1], "namespace": "rdk", "type": "data_manager", "attributes": attributes}
    ]
    with_vision = draw(st.booleans())
    if cameras and with_vision:
        methods = draw(capture_methods("rdk:service:vision", camera_names=cameras))
        services.append({
            "name": pool[-2], "type": "vision", "model": "mlmodel", "attributes": {},
            "service_configs": _service_configs(methods, None),
        })  # fmt: skip
    remotes = []
    for index in range(draw(st.integers(0, max_remotes))):
        name = pool[max_components + index]
        api = draw(st.sampled_from(_COMPONENT_APIS))
        resource = f"{api}/{draw(_NAMES)}"
        methods = draw(capture_methods(api, resource_name=resource))
        remotes.append({
            "name": name, "address": f"{name}.local:8080", "secret": draw(_NAMES),
            "service_configs": _service_configs(methods, None),
        })  # fmt: skip
    modules = [
        {"type": "registry", "name": pool[-3], "module_id": "viam:tflite_cpu", "version": "0.0.3"}
    ]
    return {"components": components, "services": services, "remotes": remotes, "modules": modules}
