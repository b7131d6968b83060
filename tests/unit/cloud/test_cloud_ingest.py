"""CloudCore ingest: the three RPCs, deduplication with and without keys, ids, identities,
capacity, and what reaches the disk."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest
from tests.unit.cloud.cloud_kit import T0, Clock, with_identity
from viam.proto.app.datasync import DataCaptureUploadRequest

from dmsim.cloud import CaptureFilter, CloudCore, StagedBlob
from dmsim.cloud.samples import (
    Box,
    binary_request,
    file_metadata,
    streaming_metadata,
    tabular_request,
)
from dmsim.errors import CloudError, InternalError
from dmsim.runtime import RngTree
from dmsim.storage._identity import ReadingId, identity_field_bytes
from dmsim.storage._simfs import SimFS


def test_tabular_upload_stores_one_row_per_reading(core: CloudCore) -> None:
    result = core.ingest_data_capture(tabular_request([{"t": 20.5}, {"t": 21.0}]), key="k1")
    assert not result.duplicate
    assert result.binary_data_id == ""
    items = core.query()
    assert [i.data() for i in items] == [{"t": 20.5}, {"t": 21.0}]
    assert {i.kind for i in items} == {"tabular"}
    assert items[0].time_requested_ns == 1_700_000_000 * 10**9
    assert items[0].received_ns == round(T0 * 1e9)
    assert core.statistics().readings == 2


def test_binary_upload_keeps_payload_and_detections(core: CloudCore) -> None:
    boxes = [[Box("cat", 0.1, 0.2, 0.5, 0.6, 0.9)]]
    result = core.ingest_data_capture(binary_request([b"\xff\xd8jpeg"], boxes=boxes), key="b1")
    (item,) = core.query()
    assert result.binary_data_id == item.item_id
    assert core.read_blob(item.item_id) == b"\xff\xd8jpeg"
    assert item.mime_type == "image/jpeg"
    annotations = item.annotations()
    assert annotations is not None
    assert annotations["bboxes"][0]["label"] == "cat"


def test_file_upload_keeps_the_name_only_as_metadata(tmp_path: Path, clock: Clock) -> None:
    cloud = CloudCore(clock=clock, data_dir=str(tmp_path / "cloud"))
    try:
        cloud.ingest_file(file_metadata("../../../etc/evil"), b"payload", key="f1")
        (item,) = cloud.query()
        assert item.file_name == "../../../etc/evil"
        assert item.kind == "file"
        assert cloud.read_blob(item.item_id) == b"payload"
    finally:
        cloud.close()
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p.parts[0] == "cloud" for p in written)
    blobs = [p for p in written if p.parts[1] == "blobs" and p.parts[2] != "tmp"]
    assert [p.name for p in blobs] == [item.blob_sha256]


def test_streaming_upload_stores_one_binary_item(core: CloudCore) -> None:
    result = core.ingest_streaming(streaming_metadata(), b"x" * 300_000, key="s1")
    (item,) = core.query()
    assert (item.kind, item.size, result.binary_data_id) == ("binary", 300_000, item.item_id)


def test_same_key_is_acknowledged_again_and_stored_once(core: CloudCore) -> None:
    first = core.ingest_data_capture(tabular_request([{"a": 1}]), key="k")
    again = core.ingest_data_capture(tabular_request([{"a": 1}]), key="k")
    assert again.duplicate
    assert (again.file_id, again.binary_data_id) == (first.file_id, first.binary_data_id)
    assert core.count() == 1
    stats = core.statistics()
    assert (stats.uploads, stats.duplicates, stats.key_conflicts) == (1, 1, 0)


def test_reused_key_with_other_content_is_counted_as_a_conflict(core: CloudCore) -> None:
    core.ingest_data_capture(tabular_request([{"a": 1}]), key="k")
    assert core.ingest_data_capture(tabular_request([{"a": 2}]), key="k").duplicate
    assert core.count() == 1
    assert core.statistics().key_conflicts == 1


def test_keyless_uploads_are_deduplicated_by_content(core: CloudCore) -> None:
    core.ingest_data_capture(tabular_request([{"a": 1}], tags=["x"]), key=None)
    # Tags are not part of the fingerprint: the same readings resent are the same data.
    assert core.ingest_data_capture(tabular_request([{"a": 1}], tags=["y"]), key=None).duplicate
    later = tabular_request([{"a": 1}], start_ns=1_700_000_001 * 10**9)
    assert not core.ingest_data_capture(later, key=None).duplicate
    assert core.count() == 2


def test_keyless_dedupe_sees_unknown_fields(core: CloudCore) -> None:
    request = tabular_request([{"a": 1}])
    core.ingest_data_capture(request, key=None)
    other = DataCaptureUploadRequest()
    other.CopyFrom(request)
    other.sensor_contents[0].CopyFrom(with_identity(request.sensor_contents[0], "s", 1, 2))
    assert not core.ingest_data_capture(other, key=None).duplicate


def test_client_keys_and_content_keys_never_collide(core: CloudCore) -> None:
    request = tabular_request([{"a": 1}])
    core.ingest_data_capture(request, key=None)
    assert not core.ingest_data_capture(request, key="content:whatever").duplicate


def test_ids_are_derived_from_the_key(clock: Clock) -> None:
    results = []
    for _ in range(2):
        cloud = CloudCore(clock=clock)
        results.append(cloud.ingest_data_capture(binary_request([b"img"]), key="same"))
        cloud.close()
    assert results[0] == results[1]


def test_reading_identity_is_decoded_into_columns(core: CloudCore) -> None:
    request = tabular_request([{"a": 1}])
    request.sensor_contents[0].CopyFrom(with_identity(request.sensor_contents[0], "st", 3, 99))
    core.ingest_data_capture(request, key="k")
    (item,) = core.query()
    assert (item.reading_stream, item.reading_boot, item.reading_seq) == ("st", 3, 99)


def test_readings_without_identity_have_null_identity(core: CloudCore) -> None:
    core.ingest_data_capture(tabular_request([{"a": 1}]), key="k")
    (item,) = core.query()
    assert (item.reading_stream, item.reading_boot, item.reading_seq) == (None, None, None)


def test_nan_and_infinite_readings_are_stored(core: CloudCore) -> None:
    core.ingest_data_capture(
        tabular_request([{"v": math.nan, "w": -math.inf, "n": {"x": [1, None]}}]), key="k"
    )
    (item,) = core.query()
    assert item.data() == {"v": "NaN", "w": "-Infinity", "n": {"x": [1.0, None]}}


def test_capacity_refuses_new_data_but_acknowledges_duplicates(clock: Clock) -> None:
    cloud = CloudCore(clock=clock, capacity_bytes=1000)
    try:
        cloud.ingest_data_capture(binary_request([b"x" * 600]), key="a")
        with pytest.raises(CloudError) as refused:
            cloud.ingest_data_capture(binary_request([b"y" * 600]), key="b")
        assert refused.value.code == "RESOURCE_EXHAUSTED"
        assert "storage full: 600 of 1000 bytes used, upload needs 600" in str(refused.value)
        assert cloud.ingest_data_capture(binary_request([b"x" * 600]), key="a").duplicate
        assert cloud.statistics().rejects == {"RESOURCE_EXHAUSTED": 1}
    finally:
        cloud.close()


def test_injected_storage_full_refuses_only_new_keys(core: CloudCore) -> None:
    core.ingest_file(file_metadata("a"), b"1", key="a")
    assert core.ingest_file(file_metadata("a"), b"1", key="a", storage_full=True).duplicate
    with pytest.raises(CloudError, match="RESOURCE_EXHAUSTED: storage full"):
        core.ingest_file(file_metadata("b"), b"2", key="b", storage_full=True)
    assert core.count() == 1


def test_data_survives_reopening_the_directory(tmp_path: Path, clock: Clock) -> None:
    first = CloudCore(clock=clock, data_dir=str(tmp_path))
    first.ingest_data_capture(binary_request([b"img"]), key="k")
    first.close()
    again = CloudCore(clock=clock, data_dir=str(tmp_path))
    try:
        assert again.ingest_data_capture(binary_request([b"img"]), key="k").duplicate
        (item,) = again.query()
        assert again.read_blob(item.item_id) == b"img"
        assert again.statistics().stored_bytes == 3
    finally:
        again.close()


def test_blob_of_an_upload_that_never_committed_is_removed_on_open(
    tmp_path: Path, clock: Clock
) -> None:
    cloud = CloudCore(clock=clock, data_dir=str(tmp_path))
    cloud.ingest_file(file_metadata("kept"), b"kept", key="k")
    cloud.close()
    orphan = tmp_path / "blobs" / "ab" / ("ab" + "0" * 62)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"never committed")
    leftover = tmp_path / "blobs" / "tmp" / "x.part"
    leftover.write_bytes(b"torn")
    CloudCore(clock=clock, data_dir=str(tmp_path)).close()
    assert not orphan.exists()
    assert not leftover.exists()
    assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 1


def test_disk_full_while_writing_a_blob_stores_nothing(tmp_path: Path, clock: Clock) -> None:
    fs = SimFS(capacity_bytes=64 * 1024, rng=RngTree(1), wall_clock=lambda: 0)
    cloud = CloudCore(clock=clock, data_dir=str(tmp_path), fs=fs)
    try:
        with pytest.raises(CloudError) as full:
            cloud.ingest_data_capture(binary_request([b"z" * 100_000]), key="big")
        assert full.value.code == "RESOURCE_EXHAUSTED"
        assert cloud.count() == 0
        cloud.ingest_data_capture(binary_request([b"small"]), key="small")
        assert cloud.count(CaptureFilter(data_type="binary")) == 1
    finally:
        cloud.close()


def _staged(cloud: CloudCore, *chunks: bytes) -> StagedBlob:
    blob = cloud.stage_blob()
    for chunk in chunks:
        blob.write(chunk)
    return blob


@pytest.mark.parametrize("on_disk", [True, False], ids=["directory", "memory"])
def test_a_staged_payload_is_committed_with_its_upload_or_discarded(
    tmp_path: Path, clock: Clock, on_disk: bool
) -> None:
    cloud = CloudCore(clock=clock, data_dir=str(tmp_path) if on_disk else None)
    try:
        cloud.ingest_file(file_metadata("a.bin"), _staged(cloud, b"hello ", b"world"), key="a")
        (item,) = cloud.query()
        assert cloud.read_blob(item.item_id) == b"hello world"
        assert (item.size, item.blob_sha256) == (11, hashlib.sha256(b"hello world").hexdigest())
        resent = _staged(cloud, b"hello world")
        assert cloud.ingest_file(file_metadata("a.bin"), resent, key="a").duplicate
        cloud.ingest_streaming(streaming_metadata(), _staged(cloud, b"hello world"), key="b")
        with pytest.raises(CloudError, match="file_contents: empty file"):
            cloud.ingest_file(file_metadata("e"), _staged(cloud), key="e")
        assert cloud.count() == 2
        if on_disk:
            assert not list((tmp_path / "blobs" / "tmp").iterdir())
            stored = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
            assert [p.name for p in stored] == [item.blob_sha256]
    finally:
        cloud.close()


def test_a_keyless_file_is_the_same_upload_staged_or_in_bytes(core: CloudCore) -> None:
    first = core.ingest_file(file_metadata("f"), b"same bytes", key=None)
    again = core.ingest_file(file_metadata("f"), _staged(core, b"same ", b"bytes"), key=None)
    assert again.duplicate
    assert again.file_id == first.file_id


def test_disk_full_while_staging_leaves_nothing_behind(tmp_path: Path, clock: Clock) -> None:
    fs = SimFS(capacity_bytes=64 * 1024, rng=RngTree(3), wall_clock=lambda: 0)
    cloud = CloudCore(clock=clock, data_dir=str(tmp_path), fs=fs)
    try:
        blob = cloud.stage_blob()
        with pytest.raises(OSError, match="No space left on device"):
            blob.write(b"z" * 100_000)
        blob.discard()
        assert fs.listdir(str(tmp_path / "blobs" / "tmp")) == []
        cloud.ingest_file(file_metadata("small"), _staged(cloud, b"small"), key="small")
        assert cloud.count() == 1
    finally:
        cloud.close()


def test_blob_is_durable_before_the_row_commits(tmp_path: Path, clock: Clock) -> None:
    fs = SimFS(capacity_bytes=10**7, rng=RngTree(2), wall_clock=lambda: 0)
    cloud = CloudCore(clock=clock, data_dir=str(tmp_path), fs=fs)
    cloud.ingest_data_capture(binary_request([b"precious"]), key="k")
    (item,) = cloud.query()
    fs.crash()  # power cut right after the ack: the blob must still be there
    try:
        assert cloud.read_blob(item.item_id) == b"precious"
    finally:
        cloud.close()


def test_group_commit_keeps_each_upload_atomic(core: CloudCore) -> None:
    with core.group_commit():
        core.ingest_data_capture(tabular_request([{"a": 1}]), key="a")
        with pytest.raises(CloudError, match="INVALID_ARGUMENT"):
            core.ingest_data_capture(tabular_request([{"b": 1}], part_id=""), key="b")
        assert core.ingest_data_capture(tabular_request([{"a": 1}]), key="a").duplicate
        core.ingest_file(file_metadata("f"), b"file", key="c")
    assert core.count() == 2
    stats = core.statistics()
    assert (stats.uploads, stats.duplicates, stats.stored_items) == (2, 1, 2)


def test_a_failed_group_stores_nothing_and_counts_nothing(core: CloudCore) -> None:
    core.ingest_data_capture(tabular_request([{"before": 1}]), key="before")

    def failing_group() -> None:
        with core.group_commit():
            core.ingest_data_capture(tabular_request([{"a": 1}]), key="a")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        failing_group()
    assert [i.data() for i in core.query()] == [{"before": 1.0}]
    stats = core.statistics()
    assert (stats.uploads, stats.stored_items) == (1, 1)
    assert not core.ingest_data_capture(tabular_request([{"a": 1}]), key="a").duplicate


def test_deletions_and_nesting_are_refused_inside_a_group(core: CloudCore) -> None:
    with core.group_commit():
        core.ingest_data_capture(tabular_request([{"a": 1}]), key="a")
        with pytest.raises(InternalError, match="inside a group commit"):
            core.delete_part("part-1")
        with pytest.raises(InternalError, match="do not nest"), core.group_commit():
            pass
    assert core.count() == 1


def test_read_only_core_refuses_writes(tmp_path: Path, clock: Clock) -> None:
    CloudCore(clock=clock, data_dir=str(tmp_path)).close()
    reader = CloudCore(clock=clock, data_dir=str(tmp_path), read_only=True)
    try:
        with pytest.raises(CloudError, match="FAILED_PRECONDITION"):
            reader.ingest_file(file_metadata("f"), b"x", key="k")
        with pytest.raises(CloudError, match="FAILED_PRECONDITION"):
            reader.delete_part("p")
        with pytest.raises(CloudError, match="FAILED_PRECONDITION"):
            reader.stage_blob()
        assert reader.count() == 0
    finally:
        reader.close()
    with pytest.raises(CloudError, match="NOT_FOUND"):
        CloudCore(clock=clock, data_dir=str(tmp_path / "missing"), read_only=True)


def test_streaming_identity_rides_on_sensor_metadata(core: CloudCore) -> None:
    metadata = streaming_metadata()
    metadata.sensor_metadata.MergeFromString(identity_field_bytes(ReadingId("cam", 2, 7)))
    core.ingest_streaming(metadata, b"frame", key="s")
    (item,) = core.query()
    assert (item.reading_stream, item.reading_boot, item.reading_seq) == ("cam", 2, 7)


def test_malformed_identity_is_ignored(core: CloudCore) -> None:
    request = tabular_request([{"a": 1}])
    broken = request.sensor_contents[0].SerializeToString() + b"\xc2\xd5\x22\x02\x0a\x05"
    request.sensor_contents[0].ParseFromString(broken)  # field 71000: truncated string
    core.ingest_data_capture(request, key="k")
    (item,) = core.query()
    assert item.reading_stream is None


def test_a_cloud_that_keeps_digests_stores_and_deduplicates_without_the_bytes(
    clock: Clock,
) -> None:
    # Simulated runs: a week of camera images must not live in RAM, and nothing reads them.
    cloud = CloudCore(clock=clock, keep_blob_contents=False)
    image = b"\xff\xd8" + bytes(range(256)) * 64
    cloud.ingest_data_capture(binary_request([image]), key="b1")
    staged = cloud.stage_blob()
    for start in range(0, 300_000, 65_536):
        staged.write(b"s" * min(65_536, 300_000 - start))
    cloud.ingest_streaming(streaming_metadata(), staged, key="s1")
    assert cloud.ingest_data_capture(binary_request([image]), key="b1").duplicate
    items = cloud.query()
    assert [i.size for i in items] == [len(image), 300_000]
    assert items[0].blob_sha256 == hashlib.sha256(image).hexdigest()
    assert items[1].blob_sha256 == hashlib.sha256(b"s" * 300_000).hexdigest()
    assert cloud.statistics().stored_bytes == len(image) + 300_000
    with pytest.raises(CloudError, match="keeps digests, not contents") as info:
        cloud.read_blob(items[0].item_id)
    assert info.value.code == "FAILED_PRECONDITION"


def test_only_an_in_memory_cloud_may_drop_blob_contents(tmp_path: Path, clock: Clock) -> None:
    with pytest.raises(ValueError, match="in-memory cloud"):
        CloudCore(clock=clock, data_dir=str(tmp_path), keep_blob_contents=False)
