"""The uploader on SimFS against the real CloudCore through a scripted transport."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.sync.sync_fakes import (
    CAPTURE_DIR,
    OK,
    World,
    binary_metadata,
    binary_record,
    capture_path,
    stored_identities,
    tabular_metadata,
    tabular_readings,
    write_capture,
    write_file,
)
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    StreamingDataCaptureUploadResponse,
)

from dmsim.errors import CloudError
from dmsim.storage._codec import encode_metadata, encode_sensor_data, tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.sync import (
    UPLOAD_CHUNK_BYTES,
    Candidate,
    ErrorClass,
    FileKind,
    FileUploader,
    Outcome,
    QuietClock,
    SyncRoot,
    UploadResult,
    UploadStatus,
    classify_error,
)
from dmsim.sync._chunks import READ_BLOCK_BYTES
from dmsim.sync._scan import FAST_PATH_MAX_BYTES, scan_capture_file
from dmsim.sync._steps import StepKind, next_step
from dmsim.sync._upload import _sensor_contents

Attempt = tuple[str, str, Outcome, str, int]


class ReadSpy:
    """A filesystem view that records the largest single read."""

    def __init__(self, fs: Any) -> None:
        self._fs = fs
        self.largest_read = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fs, name)

    def open_read(self, path: str) -> Any:
        handle = self._fs.open_read(path)
        spy = self

        class Handle:
            def read(self, n: int = -1) -> bytes:
                data: bytes = handle.read(n)
                spy.largest_read = max(spy.largest_read, len(data))
                return data

            def __getattr__(self, name: str) -> Any:
                return getattr(handle, name)

        return Handle()


def uploader(
    world: World, *, cap: int = 1 << 20, fs: Any = None, tags: tuple[str, ...] = ()
) -> FileUploader:
    return FileUploader(
        rt=world.rt,
        fs=fs or world.fs,
        transport=world.transport,
        part_id="part-1",
        service_tags=tags,
        max_request_bytes=cap,
        file_last_modified_millis=10_000,
        quiet_clock=QuietClock(world.rt),
    )


def capture_candidate(path: str) -> Candidate:
    return Candidate(path, FileKind.CAPTURE, SyncRoot(CAPTURE_DIR, True), 0, 0)


def run_upload(
    world: World, up: FileUploader, candidate: Candidate, skip: frozenset[str] = frozenset()
) -> tuple[UploadResult, list[Attempt]]:
    attempts: list[Attempt] = []

    async def go() -> UploadResult:
        return await up.upload(candidate, skip_keys=skip, on_attempt=lambda *a: attempts.append(a))

    return world.run(go()), attempts


def test_small_tabular_file_is_one_request_with_identities_and_tags() -> None:
    world = World()
    path = capture_path(0)
    write_capture(world.fs, path, tabular_metadata(tags=("t1",)), tabular_readings("s", 20))
    result, attempts = run_upload(world, uploader(world, tags=("svc",)), capture_candidate(path))
    assert result.status is UploadStatus.UPLOADED
    assert result.readings == 20
    assert [(a[1], a[2]) for a in attempts] == [("DataCaptureUpload", Outcome.OK)]
    assert attempts[0][0].endswith("/0-20")
    assert stored_identities(world.core) == [("s", 1, i) for i in range(20)]
    assert {tuple(item.tags) for item in world.core.query()} == {("t1", "svc")}
    assert world.fs.exists(path)  # the uploader never deletes: the engine does


def test_large_tabular_file_is_split_under_the_cap_and_every_reading_arrives_once() -> None:
    world = World()
    path = capture_path(0)
    write_capture(world.fs, path, tabular_metadata(), tabular_readings("s", 300, pad=40))
    cap = 4096
    result, attempts = run_upload(world, uploader(world, cap=cap), capture_candidate(path))
    assert result.status is UploadStatus.UPLOADED
    assert len(attempts) > 3
    assert all(a[4] <= cap for a in attempts)
    ranges = [tuple(map(int, a[0].split("/")[1].split("-"))) for a in attempts]
    assert ranges[0][0] == 0
    assert ranges[-1][1] == 300
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert stored_identities(world.core) == [("s", 1, i) for i in range(300)]


def test_retry_skips_requests_already_acknowledged() -> None:
    world = World()
    path = capture_path(0)
    write_capture(world.fs, path, tabular_metadata(), tabular_readings("s", 300, pad=40))
    calls = {"n": 0}

    def third_fails(rpc: str, key: str) -> str:
        calls["n"] += 1
        return "INTERNAL" if calls["n"] == 3 else OK

    world.transport.script = third_fails
    first, _attempts = run_upload(world, uploader(world, cap=4096), capture_candidate(path))
    assert first.status is UploadStatus.FAILED
    assert len(first.acked_keys) == 2
    assert classify_error(first.error or Exception()).error_class is ErrorClass.RETRYABLE
    second, again = run_upload(
        world, uploader(world, cap=4096), capture_candidate(path), first.acked_keys
    )
    assert second.status is UploadStatus.UPLOADED
    assert {a[0] for a in again}.isdisjoint(first.acked_keys)
    assert stored_identities(world.core) == [("s", 1, i) for i in range(300)]
    assert world.core.statistics().duplicates == 0


def test_binary_payloads_small_unary_large_streamed_in_chunks_from_disk() -> None:
    world = World()
    spy = ReadSpy(world.fs)
    chunks_seen: list[int] = []
    inner = world.transport.streaming_data_capture_upload

    async def spy_stream(
        metadata: DataCaptureUploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> StreamingDataCaptureUploadResponse:
        async def counted() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                chunks_seen.append(len(chunk))
                yield chunk

        return await inner(metadata, counted(), key=key)

    world.transport.streaming_data_capture_upload = spy_stream  # type: ignore[method-assign]
    small = f"{CAPTURE_DIR}/cam/ReadImage/a.capture"
    large = f"{CAPTURE_DIR}/cam/ReadImage/b.capture"
    write_capture(world.fs, small, binary_metadata(), [binary_record("c", 0, b"s" * 1_000_000)])
    payload = bytes(range(256)) * 12_000  # 3,072,000 bytes
    write_capture(world.fs, large, binary_metadata(), [binary_record("c", 1, payload)])
    up = uploader(world, fs=spy)
    r1, a1 = run_upload(world, up, capture_candidate(small))
    r2, a2 = run_upload(world, up, capture_candidate(large))
    assert (r1.status, r2.status) == (UploadStatus.UPLOADED, UploadStatus.UPLOADED)
    assert a1[0][1] == "DataCaptureUpload"
    assert a2[0][1] == "StreamingDataCaptureUpload"
    assert sum(chunks_seen) == len(payload)
    assert max(chunks_seen) == UPLOAD_CHUNK_BYTES
    # Streamed from disk: no read ever held more than one block (the unary payload is 1 MB).
    assert spy.largest_read <= READ_BLOCK_BYTES
    stored = {item.reading_seq: item for item in world.core.query()}
    assert world.core.read_blob(stored[1].item_id) == payload
    assert stored[1].reading_stream == "c"  # the identity rode in sensor_metadata
    assert stored[0].mime_type == "image/jpeg"
    assert stored[0].file_extension == ".jpeg"


def test_streaming_never_reads_a_large_payload_whole() -> None:
    world = World()
    spy = ReadSpy(world.fs)
    path = f"{CAPTURE_DIR}/cam/ReadImage/big.capture"
    write_capture(world.fs, path, binary_metadata(), [binary_record("c", 0, b"z" * 5_000_000)])
    result, _ = run_upload(world, uploader(world, fs=spy), capture_candidate(path))
    assert result.status is UploadStatus.UPLOADED
    assert spy.largest_read <= READ_BLOCK_BYTES < 5_000_000


def arbitrary_candidate(world: World, path: str) -> Candidate:
    """``path`` as the walk found it (size and mtime from a stat)."""
    stat = world.fs.stat(path)
    return Candidate(path, FileKind.ARBITRARY, SyncRoot("/extra", False), stat.size, stat.mtime_ns)


def test_arbitrary_file_by_file_upload_from_offset_zero() -> None:
    world = World()
    data = b"log line\n" * 20_000
    write_file(world.fs, "/extra/tag=bench/run.log", data)
    candidate = arbitrary_candidate(world, "/extra/tag=bench/run.log")
    up = uploader(world)
    world.transport.script = lambda rpc, key: "INTERNAL"
    failed, _ = run_upload(world, up, candidate)
    assert failed.status is UploadStatus.FAILED
    world.transport.script = lambda rpc, key: OK
    result, attempts = run_upload(world, up, candidate)
    assert result.status is UploadStatus.UPLOADED
    assert attempts[0][1] == "FileUpload"
    digest, identity = attempts[0][0].split("/")  # no request range: one request
    assert len(digest) == 64
    assert identity.startswith("file-")
    [item] = world.core.query()
    assert world.core.read_blob(item.item_id) == data  # whole file, from its first byte
    assert item.file_name == "/extra/tag=bench/run.log"
    assert "bench" in item.tags


def test_arbitrary_file_changed_while_streaming_is_aborted_before_commit() -> None:
    world = World()
    write_file(world.fs, "/extra/grow.txt", b"a" * 200_000)
    candidate = arbitrary_candidate(world, "/extra/grow.txt")
    inner = world.transport.file_upload

    async def appending(metadata: Any, chunks: AsyncIterator[bytes], *, key: str) -> Any:
        async def writer_appends() -> AsyncIterator[bytes]:
            first = True
            async for chunk in chunks:
                if first:
                    handle = world.fs.open_append("/extra/grow.txt")
                    handle.write(b"more")
                    handle.close()
                    first = False
                yield chunk

        return await inner(metadata, writer_appends(), key=key)

    world.transport.file_upload = appending  # type: ignore[method-assign]
    result, _ = run_upload(world, uploader(world), candidate)
    assert result.status is UploadStatus.FAILED
    assert classify_error(result.error or Exception()).code == "LOCAL_CHANGED"
    assert world.core.count() == 0  # nothing committed under the stale key


def test_header_only_file_sends_nothing() -> None:
    world = World()
    path = capture_path(0)
    write_capture(world.fs, path, tabular_metadata(), [])
    result, attempts = run_upload(world, uploader(world), capture_candidate(path))
    assert result.status is UploadStatus.HEADER_ONLY
    assert attempts == []


def test_torn_tail_uploads_the_readable_prefix() -> None:
    world = World()
    path = capture_path(0)
    records = tabular_readings("s", 5)
    data = write_capture(world.fs, path, tabular_metadata(), records[:4])
    handle = world.fs.open_append(path)
    handle.write(records[4][:-3])
    handle.close()
    result, _ = run_upload(world, uploader(world), capture_candidate(path))
    assert result.status is UploadStatus.TORN
    assert result.torn_tail_bytes == len(records[4]) - 3
    assert len(data) > 0
    assert stored_identities(world.core) == [("s", 1, i) for i in range(4)]


@pytest.mark.parametrize(
    ("damage", "at_record"),
    [
        (b"\x89garbage\x00\xff" * 15, 4),  # garbage appended to a complete file (rdk §1.3)
        (b"\xff\xff\x03", 2),  # a length prefix damaged in the middle
    ],
)
def test_damage_after_readings_uploads_the_readings_before_it(
    damage: bytes, at_record: int
) -> None:
    # The readings before the damage are whole and valid: holding them back in failed/
    # loses them to the cloud for a damage that is not theirs (the file is still quarantined).
    world = World()
    path = capture_path(0)
    records = tabular_readings("s", 4)
    write_capture(world.fs, path, tabular_metadata(), records[:at_record])
    handle = world.fs.open_append(path)
    handle.write(damage + b"".join(records[at_record:]))
    handle.close()
    result, _ = run_upload(world, uploader(world), capture_candidate(path))
    assert result.status is UploadStatus.DAMAGED
    assert result.readings == at_record
    assert "at byte" in result.damage
    assert stored_identities(world.core) == [("s", 1, i) for i in range(at_record)]
    step = next_step(result)
    assert step.kind is StepKind.QUARANTINE
    assert f"the {at_record} readings before it were uploaded" in step.reason


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "empty"),
        (b"\x05garbage", "DataCaptureMetadata"),
        (encode_metadata(tabular_metadata()) + binary_record("c", 0, b"img"), "binary reading"),
        (
            encode_metadata(binary_metadata())
            + encode_sensor_data(
                tabular_reading({"v": 1}, time_requested_ns=1, time_received_ns=2),
                ReadingId("c", 1, 0),
            ),
            "tabular reading",
        ),
    ],
)
def test_unusable_files_are_terminal_before_anything_is_sent(content: bytes, why: str) -> None:
    world = World()
    path = capture_path(0)
    write_file(world.fs, path, content)
    result, attempts = run_upload(world, uploader(world), capture_candidate(path))
    assert result.status is UploadStatus.FAILED
    assert attempts == []
    verdict = classify_error(result.error or Exception())
    assert verdict.error_class is ErrorClass.TERMINAL
    assert why in verdict.reason


def test_mixed_file_is_rejected_even_after_valid_readings() -> None:
    world = World()
    path = capture_path(0)
    records = [*tabular_readings("s", 50), binary_record("s", 50, b"img")]
    write_capture(world.fs, path, tabular_metadata(), records)
    result, attempts = run_upload(world, uploader(world), capture_candidate(path))
    assert result.status is UploadStatus.FAILED
    assert attempts == []
    assert world.core.count() == 0


def test_vanished_file_is_gone_not_terminal() -> None:
    world = World()
    result, _ = run_upload(world, uploader(world), capture_candidate(capture_path(9)))
    assert classify_error(result.error or Exception()).error_class is ErrorClass.GONE


def test_cloud_rejection_reports_fail_and_code() -> None:
    world = World()
    path = capture_path(0)
    write_capture(world.fs, path, tabular_metadata(), tabular_readings("s", 3))
    world.transport.script = lambda rpc, key: "INVALID_ARGUMENT"
    result, attempts = run_upload(world, uploader(world), capture_candidate(path))
    assert [(a[2], a[3]) for a in attempts] == [(Outcome.FAIL, "INVALID_ARGUMENT")]
    assert isinstance(result.error, CloudError)


def test_scan_keeps_only_files_of_one_request_in_memory() -> None:
    world = World()
    small, big = capture_path(0), capture_path(1)
    write_capture(world.fs, small, tabular_metadata(), tabular_readings("s", 10))
    write_capture(world.fs, big, tabular_metadata(), tabular_readings("s", 400, pad=3000))

    def scan(path: str) -> Any:
        return scan_capture_file(world.fs, path, part_id="p", cap=4096, overhead_for=lambda m: 100)

    assert world.fs.stat(big).size > FAST_PATH_MAX_BYTES  # read by the storage reader
    assert scan(small).tabular_cache is not None
    assert scan(big).tabular_cache is None
    assert len(scan(big).request_ranges) == 400
    assert scan(small).digest == scan(small).digest != scan(big).digest


def test_a_disk_error_while_streaming_is_a_local_retry_not_an_outage() -> None:
    world = World()
    path = f"{CAPTURE_DIR}/cam/ReadImage/big.capture"
    write_capture(world.fs, path, binary_metadata(), [binary_record("c", 0, b"z" * 3_000_000)])
    inner = world.transport.streaming_data_capture_upload

    async def eio_mid_stream(metadata: Any, chunks: AsyncIterator[bytes], *, key: str) -> Any:
        async def failing() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                if not world.fs.active_faults():  # the disk fails under the next block read
                    world.fs.inject_eio(prefix=path, ops=["read"], fault_id="eio", count=1)
                yield chunk

        return await inner(metadata, failing(), key=key)

    world.transport.streaming_data_capture_upload = eio_mid_stream  # type: ignore[method-assign]
    result, _ = run_upload(world, uploader(world), capture_candidate(path))
    verdict = classify_error(result.error or Exception())
    assert (verdict.error_class, verdict.code) == (ErrorClass.RETRYABLE, "EIO")
    assert world.core.count() == 0


@given(st.lists(st.integers(0, 20_000), max_size=8))
def test_readings_are_framed_as_sensor_contents(sizes: list[int]) -> None:
    # lengths under and over 127 and 16,383 bytes: one-, two- and three-byte length prefixes
    readings = [
        tabular_reading({"v": "x" * size}, time_requested_ns=1, time_received_ns=2)
        for size in sizes
    ]
    wire = _sensor_contents([r.SerializeToString() for r in readings])
    assert list(DataCaptureUploadRequest.FromString(wire).sensor_contents) == readings


@pytest.mark.parametrize("readings", [10, 400])  # the fast path, and the storage reader
def test_garbage_after_the_readings_keeps_the_keys_the_upload_carries(readings: int) -> None:
    """Found fuzzing a field replay (seed 644): a file was acknowledged, its unlink failed,
    another writer appended a byte of garbage, and the resend of the same readings carried new
    keys, so the cloud stored all ten twice. A key names what is sent, not the bytes after."""
    world = World()
    path = capture_path(0)
    write_capture(world.fs, path, tabular_metadata(), tabular_readings("s", readings, pad=3000))

    def scan() -> Any:
        return scan_capture_file(world.fs, path, part_id="p", cap=4096, overhead_for=lambda m: 100)

    clean = scan()
    for garbage in (b"\x01", b"\x95\x02junk"):
        handle = world.fs.open_append(path)
        handle.write(garbage)
        handle.close()
        after = scan()
        assert after.torn_tail_bytes or after.damage  # a torn tail, then a damaged record
        assert (after.digest, after.request_ranges) == (clean.digest, clean.request_ranges)
