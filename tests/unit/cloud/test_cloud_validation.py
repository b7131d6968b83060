"""Bad uploads get the right gRPC status name and a message naming the field; nothing is
stored and the reject is counted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from tests.unit.cloud.cloud_kit import Clock
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    DataType,
    SensorData,
    UploadMetadata,
)

from dmsim.cloud import CloudCore, CloudLimits
from dmsim.cloud.samples import binary_request, file_metadata, streaming_metadata, tabular_request
from dmsim.errors import CloudError
from dmsim.net import SimCloudTransport, SimLink
from dmsim.runtime import RngTree, Runtime, SimKernel

Upload = Callable[[CloudCore], object]


def _tabular_with_binary(core: CloudCore) -> object:
    request = tabular_request([{"a": 1}, {"a": 2}])
    request.sensor_contents[1].CopyFrom(SensorData(binary=b"img"))
    return core.ingest_data_capture(request, key="k")


def _no_metadata(core: CloudCore) -> object:
    request = DataCaptureUploadRequest(sensor_contents=[SensorData(binary=b"x")])
    return core.ingest_data_capture(request, key="k")


def _with_metadata(change: Callable[[UploadMetadata], None]) -> Upload:
    def upload(core: CloudCore) -> object:
        request = tabular_request([{"a": 1}])
        change(request.metadata)
        return core.ingest_data_capture(request, key="k")

    return upload


def _set(field: str, value: object) -> Callable[[UploadMetadata], None]:
    return lambda md: setattr(md, field, value)


def _reading_time(field: str, stamp: Timestamp) -> Upload:
    def upload(core: CloudCore) -> object:
        request = tabular_request([{"a": 1}, {"a": 2}])
        getattr(request.sensor_contents[1].metadata, field).CopyFrom(stamp)
        return core.ingest_data_capture(request, key="k")

    return upload


def _file_time(field: str, stamp: Timestamp) -> Upload:
    def upload(core: CloudCore) -> object:
        metadata = file_metadata("a.txt")
        getattr(metadata, field).CopyFrom(stamp)
        return core.ingest_file(metadata, b"x", key="k")

    return upload


def _streamed_time(field: str, stamp: Timestamp) -> Upload:
    def upload(core: CloudCore) -> object:
        metadata = streaming_metadata()
        getattr(metadata.sensor_metadata, field).CopyFrom(stamp)
        return core.ingest_streaming(metadata, b"x", key="k")

    return upload


_PROTOBUF_RANGE = "outside protobuf's Timestamp range (0001-01-01T00:00:00Z..9999-12-31T23:59:59"
_FIRST_NS = Timestamp(seconds=-9_223_372_037, nanos=145_224_192)  # -2**63 ns
_LAST_NS = Timestamp(seconds=9_223_372_036, nanos=854_775_807)  # 2**63 - 1 ns


CASES: list[tuple[str, Upload, str, str]] = [
    ("missing metadata", _no_metadata, "INVALID_ARGUMENT", "metadata: missing"),
    (
        "empty part_id",
        _with_metadata(_set("part_id", "")),
        "INVALID_ARGUMENT",
        "metadata.part_id: empty",
    ),
    (
        "file type in DataCaptureUpload",
        _with_metadata(_set("type", DataType.DATA_TYPE_FILE)),
        "INVALID_ARGUMENT",
        "metadata.type: DATA_TYPE_FILE is not valid for DataCaptureUpload",
    ),
    (
        "binary contents in a tabular upload",
        _tabular_with_binary,
        "INVALID_ARGUMENT",
        "sensor_contents[1]: binary data in a DATA_TYPE_TABULAR_SENSOR upload",
    ),
    (
        "struct contents in a binary upload",
        lambda c: c.ingest_data_capture(
            DataCaptureUploadRequest(
                metadata=binary_request([b"x"]).metadata,
                sensor_contents=[tabular_request([{"a": 1}]).sensor_contents[0]],
            ),
            key="k",
        ),
        "INVALID_ARGUMENT",
        "sensor_contents[0]: struct data in a DATA_TYPE_BINARY_SENSOR upload",
    ),
    (
        "binary without payload",
        lambda c: c.ingest_data_capture(binary_request([b""]), key="k"),
        "INVALID_ARGUMENT",
        "sensor_contents[0].binary: empty payload",
    ),
    (
        "reading with neither struct nor binary",
        lambda c: c.ingest_data_capture(
            DataCaptureUploadRequest(
                metadata=binary_request([b"x"]).metadata, sensor_contents=[SensorData()]
            ),
            key="k",
        ),
        "INVALID_ARGUMENT",
        "sensor_contents[0]: no data (neither struct nor binary)",
    ),
    (
        "no readings",
        lambda c: c.ingest_data_capture(tabular_request([]), key="k"),
        "INVALID_ARGUMENT",
        "sensor_contents: empty",
    ),
    (
        "huge file name",
        lambda c: c.ingest_file(file_metadata("n" * 5000), b"x", key="k"),
        "INVALID_ARGUMENT",
        "metadata.file_name: 5000 bytes exceeds the 4096-byte limit",
    ),
    (
        "too many tags",
        _with_metadata(lambda md: md.tags.extend(["t"] * 1001)),
        "INVALID_ARGUMENT",
        "metadata.tags: 1001 tags exceed the limit of 1000",
    ),
    (
        "huge metadata",
        _with_metadata(lambda md: md.tags.extend(["t" * 1000] * 100)),
        "INVALID_ARGUMENT",
        "exceeds the 65536-byte limit",
    ),
    (
        "message too big",
        lambda c: c.ingest_data_capture(binary_request([b"x" * (5 * 1024 * 1024)]), key="k"),
        "RESOURCE_EXHAUSTED",
        "exceeds the 4194304-byte message limit",
    ),
    (
        "empty file",
        lambda c: c.ingest_file(file_metadata("a"), b"", key="k"),
        "INVALID_ARGUMENT",
        "file_contents: empty file",
    ),
    (
        "tabular type in FileUpload",
        lambda c: c.ingest_file(
            UploadMetadata(part_id="p", type=DataType.DATA_TYPE_TABULAR_SENSOR), b"x", key="k"
        ),
        "INVALID_ARGUMENT",
        "not valid for FileUpload",
    ),
    (
        "streaming without upload metadata",
        lambda c: c.ingest_streaming(DataCaptureUploadMetadata(), b"x", key="k"),
        "INVALID_ARGUMENT",
        "metadata.upload_metadata: missing",
    ),
    (
        "streaming with empty payload",
        lambda c: c.ingest_streaming(streaming_metadata(), b"", key="k"),
        "INVALID_ARGUMENT",
        "data: empty payload",
    ),
    (
        "time_requested after year 9999",
        _reading_time("time_requested", Timestamp(seconds=10**12)),
        "INVALID_ARGUMENT",
        f"sensor_contents[1].metadata.time_requested: seconds 1000000000000 is {_PROTOBUF_RANGE}",
    ),
    (
        "time_received before year 1",
        _reading_time("time_received", Timestamp(seconds=-(10**12))),
        "INVALID_ARGUMENT",
        "sensor_contents[1].metadata.time_received: seconds -1000000000000 is outside",
    ),
    (
        "time_requested at 2**62 seconds",
        _reading_time("time_requested", Timestamp(seconds=2**62)),
        "INVALID_ARGUMENT",
        "sensor_contents[1].metadata.time_requested: seconds 4611686018427387904 is outside",
    ),
    (
        "a valid Timestamp past what 64-bit nanoseconds hold",
        _reading_time("time_requested", Timestamp(seconds=_LAST_NS.seconds + 1)),
        "INVALID_ARGUMENT",
        "sensor_contents[1].metadata.time_requested: 2262-04-11T23:47:17Z is outside the range"
        " this cloud stores (1677-09-21T00:12:43.145224192Z..2262-04-11T23:47:16.854775807Z",
    ),
    (
        "negative nanos",
        _reading_time("time_requested", Timestamp(seconds=5, nanos=-5)),
        "INVALID_ARGUMENT",
        "sensor_contents[1].metadata.time_requested: nanos -5 is outside 0..999999999",
    ),
    (
        "file_create_time far ahead",
        _file_time("file_create_time", Timestamp(seconds=10**13)),
        "INVALID_ARGUMENT",
        "metadata.file_create_time: seconds 10000000000000 is outside",
    ),
    (
        "file_modify_time with a whole second of nanos",
        _file_time("file_modify_time", Timestamp(seconds=5, nanos=10**9)),
        "INVALID_ARGUMENT",
        "metadata.file_modify_time: nanos 1000000000 is outside 0..999999999",
    ),
    (
        "streamed time_received far ahead",
        _streamed_time("time_received", Timestamp(seconds=10**12)),
        "INVALID_ARGUMENT",
        "metadata.sensor_metadata.time_received: seconds 1000000000000 is outside",
    ),
    (
        "empty idempotency key",
        lambda c: c.ingest_data_capture(tabular_request([{"a": 1}]), key=""),
        "INVALID_ARGUMENT",
        "idempotency key: empty",
    ),
]


@pytest.mark.parametrize(
    ("upload", "code", "message"),
    [pytest.param(u, c, m, id=name) for name, u, c, m in CASES],
)
def test_bad_upload_is_rejected_precisely(
    core: CloudCore, upload: Upload, code: str, message: str
) -> None:
    with pytest.raises(CloudError) as rejected:
        upload(core)
    assert rejected.value.code == code
    assert message in str(rejected.value)
    assert core.count() == 0
    assert core.statistics().rejects == {code: 1}


def test_stream_size_limit(clock: Clock) -> None:
    cloud = CloudCore(clock=clock, limits=CloudLimits(max_stream_bytes=1000))
    try:
        with pytest.raises(
            CloudError, match="RESOURCE_EXHAUSTED: StreamingDataCaptureUpload: 1001"
        ):
            cloud.ingest_streaming(streaming_metadata(), b"x" * 1001, key="k")
        cloud.ingest_streaming(streaming_metadata(), b"x" * 1000, key="k")
    finally:
        cloud.close()


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tags must be positive"):
        CloudLimits(max_tags=0)


def test_the_first_and_last_storable_nanoseconds_are_stored(core: CloudCore) -> None:
    request = tabular_request([{"a": 1}])
    request.sensor_contents[0].metadata.time_requested.CopyFrom(_FIRST_NS)
    request.sensor_contents[0].metadata.time_received.CopyFrom(_LAST_NS)
    core.ingest_data_capture(request, key="k")
    (item,) = core.query()
    assert (item.time_requested_ns, item.time_received_ns) == (-(2**63), 2**63 - 1)
    assert item.to_json()["time_requested"] == "1677-09-21T00:12:43.145224192Z"
    assert item.to_json()["time_received"] == "2262-04-11T23:47:16.854775807Z"


def test_the_simulated_transport_gets_the_same_invalid_argument() -> None:
    """Simulation ingests in-process: a bad timestamp is a failed upload, not a crashed run."""

    async def upload(rt: Runtime) -> tuple[CloudError, str]:
        core = CloudCore(clock=lambda: 1_700_000_000 + rt.monotonic())
        link = SimLink(rt, rng=RngTree(1).child("link"))
        transport = SimCloudTransport(rt, link, core)
        metadata = streaming_metadata()
        metadata.sensor_metadata.time_requested.CopyFrom(Timestamp(seconds=10**12))

        async def chunks() -> AsyncIterator[bytes]:
            yield b"frame"

        async with link:
            with pytest.raises(CloudError) as refused:
                await transport.streaming_data_capture_upload(metadata, chunks(), key="k")
        (attempt,) = transport.attempts()
        assert core.count() == 0
        return refused.value, attempt.outcome

    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)
    error, outcome = kernel.run_main(upload(kernel.process("device")))
    assert error.code == "INVALID_ARGUMENT"
    assert "metadata.sensor_metadata.time_requested: seconds 1000000000000 is outside" in str(error)
    assert outcome == "fail"
