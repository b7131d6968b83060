"""The scan's fast path never changes an outcome: it agrees with the storage reader on every
file it accepts, and leaves every other file (damaged ones included) to the reader."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from tests.unit.sync.sync_fakes import EPOCH_NS, binary_record, tabular_metadata, write_file
from viam.proto.app.datasync import SensorData

from dmsim.errors import StorageError
from dmsim.runtime import RngTree
from dmsim.storage._codec import encode_metadata, encode_sensor_data, frame, tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.storage._simfs import SimFS
from dmsim.sync import _scan

PATH = "/cap/s/Readings/f.capture"


def scan_both(data: bytes) -> tuple[Any, Any]:
    """(fast-path verdict or None, the reader's verdict: a scan or the error it raised)."""
    fs = SimFS(capacity_bytes=1 << 26, rng=RngTree(0), wall_clock=lambda: EPOCH_NS)
    write_file(fs, PATH, data)
    fast = _scan._fast_scan(data, "p", 2048, lambda m: 50)
    try:
        slow: Any = _scan._reader_scan(fs, PATH, part_id="p", cap=2048, overhead_for=lambda m: 50)
    except StorageError as error:
        slow = error
    return fast, slow


def parsed(bodies: tuple[bytes, ...] | None) -> list[SensorData]:
    return [SensorData.FromString(b) for b in bodies or ()]


def reading(seq: int, values: dict[str, Any]) -> bytes:
    sd = tabular_reading(values, time_requested_ns=EPOCH_NS + seq, time_received_ns=EPOCH_NS + seq)
    return encode_sensor_data(sd, ReadingId("s", 1, seq) if seq % 3 else None)


values = st.dictionaries(
    st.text(max_size=5), st.one_of(st.integers(-1000, 1000), st.text(max_size=20)), max_size=4
)
mutation = st.one_of(
    st.none(),
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=12)),
    st.tuples(st.just("binary"), st.integers(0, 5)),
    st.tuples(st.just("double"), st.integers(0, 5)),
)


@settings(max_examples=300)
@given(readings=st.lists(values, max_size=8), change=mutation)
@example(readings=[{}, {"": ""}], change=("flip", 113, 1))  # identity with an explicit boot=0
@example(readings=[{"a": 1, "b": 2}], change=("double", 0))
def test_fast_path_agrees_with_the_reader(readings: list[dict[str, Any]], change: Any) -> None:
    records = [reading(i, v) for i, v in enumerate(readings)]
    if change and change[0] == "binary" and records:
        records[change[1] % len(records)] = binary_record("s", 99, b"img")
    if change and change[0] == "double" and records:
        i = change[1] % len(records)
        body = records[i][1:] if records[i][0] < 128 else records[i][2:]
        struct = tabular_reading({"x": 1}, time_requested_ns=1, time_received_ns=1).struct
        records[i] = frame(body + b"\x12" + frame(struct.SerializeToString()))
    data = bytearray(encode_metadata(tabular_metadata()) + b"".join(records))
    if change and change[0] == "flip" and data:
        data[change[1] % len(data)] ^= change[2]
    if change and change[0] == "truncate":
        del data[change[1] % (len(data) + 1) :]
    if change and change[0] == "append":
        data += change[1]
    fast, slow = scan_both(bytes(data))
    if fast is None:
        return  # left to the reader, whatever it says
    assert not isinstance(slow, Exception), f"fast path accepted a file the reader rejects: {slow}"
    assert (fast.metadata, fast.digest, fast.size, fast.readings) == (
        slow.metadata,
        slow.digest,
        slow.size,
        slow.readings,
    )
    assert (fast.torn_tail_bytes, fast.request_ranges) == (0, slow.request_ranges)
    assert parsed(fast.tabular_cache) == parsed(slow.tabular_cache) or slow.tabular_cache is None


def test_fast_path_takes_the_common_file() -> None:
    data = encode_metadata(tabular_metadata()) + b"".join(reading(i, {"v": i}) for i in range(9))
    fast, slow = scan_both(data)
    assert fast is not None
    assert fast.readings == slow.readings == 9
