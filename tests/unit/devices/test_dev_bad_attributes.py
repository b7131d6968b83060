"""Any attributes and params a config can hold: a simulated resource is built or refused with a
ConfigError naming the attribute, and a built one captures or raises a DeviceError (which a
collector counts), never anything else (which would stop `dmsim machine` or a simulation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.devices.devsim import EPOCH_NS, MACHINE, PARAMS, SMALL

from dmsim.devices import SimResourceSpec, build_sim_resources
from dmsim.devices._capture_control import CAPTURE_CONTROL_MODEL
from dmsim.errors import ConfigError, DeviceError
from dmsim.runtime import RngTree, SimKernel

# The attributes each simulated type reads (the factory's docstring), keys their list and
# object values hold, and one no model reads.
READS = {
    "camera": ("width_px", "height_px", "fps", "scene", "objects"),
    "motor": ("max_rpm", "ticks_per_rotation", "encoder"),
    "encoder": ("motor", "ticks_per_rotation"),
    "movement_sensor": ("motion", "latitude", "longitude", "altitude_m"),
    "gantry": ("lengths_mm",),
    "board": ("analogs", "pins", "digital_interrupts"),
    "sensor": (
        "num_readings", "mean_rssi_dbm", "analog_reader", "sync_from_hour", "sync_until_hour",
        "resources", "default_capture_frequency_hz", "default_tags", "recordings",
    ),
}  # fmt: skip
NESTED = ("name", "pin", "resource_name", "method", "start_s", "stop_s", "frequency_hz", "tags")
KEYS = (*(key for keys in READS.values() for key in keys), *NESTED, "sim_latency_ms", "unknown")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.sampled_from([0, -1, 1 << 24, 1 << 31, 1 << 63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "34", "A1", "27", "cam", "garden", "inspection", "static", "vehicle"]),
    st.text(max_size=8),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(NESTED), inner, max_size=4)
    ),
    max_leaves=12,
)
PARAM_VALUES = st.one_of(
    st.sampled_from(["", "A1", "27", "cam", "image/jpeg", "image/png", "0.7", "nan", "-1", "2"]),
    st.text(max_size=6),
)
PARAMS_ANY = st.dictionaries(
    st.sampled_from(["reader_name", "pin_name", "mime_type", "camera_name",
                     "min_confidence_score"]),
    PARAM_VALUES,
    max_size=3,
)  # fmt: skip
# The documents' machine, plus the capture control sensor (its attributes are the richest).
SPECS = (*MACHINE, SimResourceSpec("sensor", "control", CAPTURE_CONTROL_MODEL))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.sampled_from(SPECS),
    st.data(),
    st.lists(st.tuples(st.booleans(), PARAMS_ANY), min_size=1, max_size=3),
)
def test_any_attributes_build_a_device_or_name_the_bad_one(
    spec: SimResourceSpec, data: st.DataObject, captures: list[tuple[bool, Mapping[str, str]]]
) -> None:
    reads = READS.get(spec.api_type, ())
    keys = st.sampled_from((*reads, "sim_latency_ms")) if reads else st.sampled_from(KEYS)
    attributes = data.draw(st.dictionaries(keys | st.sampled_from(KEYS), JSON, max_size=5))
    changed = SimResourceSpec(spec.api_type, spec.name, spec.model, attributes)
    kernel = SimKernel(epoch_ns=EPOCH_NS)
    rt = kernel.process("p")
    others = [s for s in MACHINE if s.name != spec.name]
    try:
        built = build_sim_resources([*others, changed], rt=rt, rng=RngTree(3), payload=SMALL)
    except ConfigError as error:
        refused = error
    else:
        refused = None
    if refused is not None:
        paths = [problem.path for problem in refused.problems]
        assert paths, refused
        assert all(paths), refused  # each problem names its attribute
        return
    device = built[spec.name]
    errors: list[DeviceError] = []

    async def main(_: Any) -> None:
        for documented, params in captures:
            for method in sorted(device.methods()):
                try:
                    await device.capture(method, PARAMS.get(method, {}) if documented else params)
                except DeviceError as error:
                    errors.append(error)

    kernel.run_main(main(rt))
    assert all(str(error) for error in errors)
