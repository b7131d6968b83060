"""Regression: capture files must be byte-identical for the same readings, whatever order a
reading's Struct keys were inserted in (protobuf maps serialize in arbitrary order otherwise)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from viam.proto.app.datasync import SensorData

from dmsim.storage._codec import deterministic_serializer, encode_sensor_data, tabular_reading

KEYS = st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=12, unique=True)


@given(keys=KEYS, data=st.data())
def test_struct_key_order_does_not_change_the_bytes(keys: list[str], data: st.DataObject) -> None:
    values = {k: float(i) for i, k in enumerate(keys)}
    shuffled = data.draw(st.permutations(keys))
    one = tabular_reading(values, time_requested_ns=1, time_received_ns=2)
    two = tabular_reading({k: values[k] for k in shuffled}, time_requested_ns=1, time_received_ns=2)
    assert encode_sensor_data(one) == encode_sensor_data(two)


class _KeywordOnlyMessage:
    """A message of a runtime (pure-Python protobuf) whose flag is keyword-only."""

    def SerializeToString(self, **kwargs: bool) -> bytes:
        return b""


@given(keys=KEYS)
def test_both_serializer_forms_write_sorted_maps(keys: list[str]) -> None:
    reading = tabular_reading(
        {k: float(i) for i, k in enumerate(keys)}, time_requested_ns=1, time_received_ns=2
    )
    expected = reading.SerializeToString(deterministic=True)
    for probe in (SensorData(), _KeywordOnlyMessage()):
        assert deterministic_serializer(probe)(reading) == expected
