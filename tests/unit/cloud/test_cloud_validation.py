"""Bad uploads get the right gRPC status name and a message naming the field; nothing is
stored and the reject is counted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
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
