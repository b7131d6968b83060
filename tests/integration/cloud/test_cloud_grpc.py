"""The DataSyncService over real gRPC on loopback: viam-sdk's generated stubs and
GrpcTransport upload; TLS and API keys; bad input gets a precise status, stores nothing and
leaves the server healthy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpclib.client import Channel, StreamUnaryMethod, UnaryUnaryMethod
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from tests.integration.cloud.cloud_env import (
    DATA_SYNC,
    chunks_of,
    raw_channel,
    running_cloud,
    transport,
)
from viam.proto.app.datasync import (
    DataCaptureUploadResponse,
    DataSyncServiceStub,
    FileData,
    FileUploadRequest,
    FileUploadResponse,
    StreamingDataCaptureUploadRequest,
    UploadMetadata,
)

from dmsim.cloud import (
    CaptureFilter,
    CloudCore,
    CloudHost,
    CloudLimits,
    CloudServer,
    GrpcTransport,
    RpcFault,
)
from dmsim.cloud.samples import binary_request, file_metadata, streaming_metadata, tabular_request
from dmsim.errors import CloudError
from dmsim.runtime import RealRuntime

pytestmark = pytest.mark.timeout(60)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _assert_healthy(server: CloudServer) -> None:
    """A good upload still works after whatever the test did."""
    async with transport(server, timeout=5) as client:
        before = server.host.core.count()
        await client.data_capture_upload(tabular_request([{"ok": 1}]), key=f"probe-{before}")
        assert server.host.core.count() == before + 1


def test_viam_stubs_upload_each_rpc(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server:
            channel = Channel("127.0.0.1", server.port)
            stub = DataSyncServiceStub(channel)
            try:
                reply = await stub.DataCaptureUpload(tabular_request([{"t": 1}, {"t": 2}]))
                assert reply.file_id
                async with stub.FileUpload.open() as stream:
                    await stream.send_message(FileUploadRequest(metadata=file_metadata("a.txt")))
                    for part in (b"hello ", b"world"):
                        await stream.send_message(
                            FileUploadRequest(file_contents=FileData(data=part))
                        )
                    await stream.end()
                    file_reply = await stream.recv_message()
                assert file_reply is not None
                assert file_reply.binary_data_id
                async with stub.StreamingDataCaptureUpload.open() as stream:
                    await stream.send_message(
                        StreamingDataCaptureUploadRequest(metadata=streaming_metadata())
                    )
                    async for chunk in chunks_of(b"j" * 200_000):
                        await stream.send_message(StreamingDataCaptureUploadRequest(data=chunk))
                    await stream.end()
                    streamed = await stream.recv_message()
                assert streamed is not None
                assert streamed.binary_data_id
            finally:
                channel.close()
            core = server.host.core
            assert core.count(CaptureFilter(data_type="tabular")) == 2
            (stored_file,) = core.query(CaptureFilter(data_type="file"))
            assert core.read_blob(stored_file.item_id) == b"hello world"
            (image,) = core.query(CaptureFilter(data_type="binary"))
            assert image.size == 200_000

    run(scenario())


def test_a_request_given_as_its_bytes_goes_out_unchanged(tmp_path: Path) -> None:
    # the sync engine hands over requests already serialized: nothing parses them on the loop
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            request = tabular_request([{"a": 1.5}, {"b": "two"}])
            data = request.SerializeToString()
            first = await client.data_capture_upload(data, key="k1")
            again = await client.data_capture_upload(request, key="k1")  # the same upload
            assert first.file_id == again.file_id
            assert [item.data() for item in server.host.core.query()] == [
                {"a": 1.5}, {"b": "two"},
            ]  # fmt: skip
            assert client.statistics().bytes_sent == 2 * len(data)
            assert [e.outcome for e in server.host.plan.timeline()] == ["ok", "duplicate"]

    run(scenario())


def test_transport_resend_with_the_same_key_is_stored_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            request = binary_request([b"frame"])
            first = await client.data_capture_upload(request, key="k1")
            again = await client.data_capture_upload(request, key="k1")
            assert (first.file_id, first.binary_data_id) == (again.file_id, again.binary_data_id)
            meta = streaming_metadata()
            one = await client.streaming_data_capture_upload(
                meta, chunks_of(b"x" * 70_000), key="s"
            )
            two = await client.streaming_data_capture_upload(
                meta, chunks_of(b"x" * 70_000), key="s"
            )
            assert one.binary_data_id == two.binary_data_id
            assert server.host.core.count() == 2
            stats = client.statistics()
            assert (stats.calls, stats.ok) == (4, 4)
            assert [e.outcome for e in server.host.plan.timeline()] == [
                "ok", "duplicate", "ok", "duplicate",
            ]  # fmt: skip

    run(scenario())


def test_tls_and_api_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path, tls=True, api_key="s3cret") as server:
            cert = tmp_path / "cloud-cert.pem"
            async with transport(server, cert_path=cert, api_key="s3cret", timeout=5) as good:
                await good.data_capture_upload(tabular_request([{"a": 1}]), key="ok")
            for key in ("wrong", None):
                async with transport(server, cert_path=cert, api_key=key, timeout=5) as bad:
                    with pytest.raises(CloudError) as refused:
                        await bad.file_upload(file_metadata("f"), chunks_of(b"x"), key="nope")
                    assert refused.value.code == "UNAUTHENTICATED"
                    assert ("wrong API key" if key else "missing API key") in str(refused.value)
            # The ``key`` metadata entry works too (raw stub, TLS trusted by the cert).
            from dmsim.cloud._tls import client_ssl_context

            channel = Channel("127.0.0.1", server.port, ssl=client_ssl_context(cert))
            try:
                stub = DataSyncServiceStub(channel)
                await stub.DataCaptureUpload(
                    tabular_request([{"b": 2}]), metadata={"key": "s3cret"}
                )
            finally:
                channel.close()
            # A plaintext client cannot talk to the TLS port.
            async with transport(server, api_key="s3cret", timeout=2) as plain:
                with pytest.raises((ConnectionError, TimeoutError)):
                    await plain.data_capture_upload(tabular_request([{"c": 3}]), key="plain")
            assert server.host.core.count() == 2
            assert server.statistics().unauthenticated == 2

    run(scenario())


def test_an_api_key_no_client_can_send_is_refused() -> None:
    host = CloudHost(CloudCore(clock=lambda: 0.0), runtime=RealRuntime())
    try:
        for key in ("", "  ", "k3y\n"):
            with pytest.raises(ValueError, match="api_key: "):
                CloudServer(host, api_key=key)
    finally:
        host.close()


async def _raw_unary(server: CloudServer, body: bytes) -> GRPCError:
    async with raw_channel(server) as channel:
        method = UnaryUnaryMethod(
            channel, f"{DATA_SYNC}/DataCaptureUpload", bytes, DataCaptureUploadResponse
        )
        with pytest.raises(GRPCError) as failed:
            await method(body, timeout=5)
        return failed.value


async def _raw_stream(server: CloudServer, rpc: str, packets: list[bytes]) -> GRPCError:
    async with raw_channel(server) as channel:
        method = StreamUnaryMethod(channel, f"{DATA_SYNC}/{rpc}", bytes, FileUploadResponse)

        async def call() -> None:
            async with method.open(timeout=5) as stream:
                await stream.send_request()
                for packet in packets:
                    await stream.send_message(packet)
                await stream.end()
                await stream.recv_message()

        with pytest.raises(GRPCError) as failed:
            await call()
        return failed.value


def _file_packet(**fields: Any) -> bytes:
    return bytes(FileUploadRequest(**fields).SerializeToString())


def _reading_at(seconds: int) -> bytes:
    request = tabular_request([{"a": 1}])
    request.sensor_contents[0].metadata.time_requested.CopyFrom(Timestamp(seconds=seconds))
    return bytes(request.SerializeToString())


def _file_created_at(seconds: int) -> bytes:
    metadata = file_metadata("a.txt")
    metadata.file_create_time.CopyFrom(Timestamp(seconds=seconds))
    return _file_packet(metadata=metadata)


BadCall = Callable[[CloudServer], Awaitable[GRPCError]]

BAD_INPUT: list[tuple[str, BadCall, Status, str]] = [
    (
        "malformed protobuf",
        lambda s: _raw_unary(s, b"\x0a\x05ab"),
        Status.INVALID_ARGUMENT,
        "malformed DataCaptureUploadRequest",
    ),
    (
        "invalid utf-8 in a string field",
        lambda s: _raw_unary(s, b"\x0a\x03\x0a\x01\xff"),
        Status.INVALID_ARGUMENT,
        "malformed DataCaptureUploadRequest",
    ),
    (
        "two requests on a unary call",
        lambda s: _raw_stream(
            s,
            "DataCaptureUpload",
            [_reading_at(1_700_000_000), _reading_at(1_700_000_001)],
        ),
        Status.UNIMPLEMENTED,
        "DataCaptureUpload takes exactly one DataCaptureUploadRequest, got more",
    ),
    (
        "no request on a unary call",
        lambda s: _raw_stream(s, "DataCaptureUpload", []),
        Status.UNIMPLEMENTED,
        "DataCaptureUpload takes exactly one DataCaptureUploadRequest, got none",
    ),
    (
        "stream of garbage",
        lambda s: _raw_stream(s, "FileUpload", [b"\xff\xff\xff\xff"]),
        Status.INVALID_ARGUMENT,
        "malformed FileUploadRequest",
    ),
    (
        "wrong first packet",
        lambda s: _raw_stream(s, "FileUpload", [_file_packet(file_contents=FileData(data=b"x"))]),
        Status.INVALID_ARGUMENT,
        "FileUploadRequest[0]: first packet must be metadata, got file_contents",
    ),
    (
        "metadata again later",
        lambda s: _raw_stream(
            s,
            "FileUpload",
            [_file_packet(metadata=file_metadata("a")), _file_packet(metadata=file_metadata("b"))],
        ),
        Status.INVALID_ARGUMENT,
        "FileUploadRequest[1]: expected file_contents, got metadata",
    ),
    (
        "empty stream",
        lambda s: _raw_stream(s, "StreamingDataCaptureUpload", []),
        Status.INVALID_ARGUMENT,
        "empty stream (no metadata packet)",
    ),
    (
        "reading time beyond protobuf's range",
        lambda s: _raw_unary(s, _reading_at(10**12)),
        Status.INVALID_ARGUMENT,
        "sensor_contents[0].metadata.time_requested: seconds 1000000000000 is outside",
    ),
    (
        "file creation time beyond protobuf's range",
        lambda s: _raw_stream(
            s,
            "FileUpload",
            [_file_created_at(10**13), _file_packet(file_contents=FileData(data=b"x"))],
        ),
        Status.INVALID_ARGUMENT,
        "metadata.file_create_time: seconds 10000000000000 is outside",
    ),
    (
        "huge metadata",
        lambda s: _raw_stream(
            s,
            "FileUpload",
            [
                _file_packet(metadata=UploadMetadata(part_id="p", tags=["t" * 1000] * 200)),
                _file_packet(file_contents=FileData(data=b"x")),
            ],
        ),
        Status.INVALID_ARGUMENT,
        "metadata: 200",
    ),
    (
        "oversized message",
        lambda s: _raw_unary(s, bytes(binary_request([b"x" * 300_000]).SerializeToString())),
        Status.RESOURCE_EXHAUSTED,
        "exceeds the 262144-byte message limit",
    ),
    (
        "stream over its total limit",
        lambda s: _raw_stream(
            s,
            "StreamingDataCaptureUpload",
            [
                bytes(
                    StreamingDataCaptureUploadRequest(
                        metadata=streaming_metadata()
                    ).SerializeToString()
                )
            ]
            + [bytes(StreamingDataCaptureUploadRequest(data=b"d" * 200_000).SerializeToString())]
            * 6,
        ),
        Status.RESOURCE_EXHAUSTED,
        "-byte stream limit",
    ),
]


@pytest.mark.parametrize(
    ("call", "status", "message"),
    [pytest.param(c, s, m, id=name) for name, c, s, m in BAD_INPUT],
)
def test_bad_input_gets_a_precise_status(
    tmp_path: Path, call: BadCall, status: Status, message: str
) -> None:
    limits = CloudLimits(max_message_bytes=256 * 1024, max_stream_bytes=1_000_000)

    async def scenario() -> None:
        async with running_cloud(tmp_path, limits=limits) as server:
            error = await call(server)
            assert error.status == status
            assert message in (error.message or "")
            assert server.host.core.count() == 0
            assert not list((tmp_path / "blobs" / "tmp").iterdir())  # nothing staged is left
            await _assert_healthy(server)

    run(scenario())


def test_path_traversal_file_names_stay_metadata(tmp_path: Path) -> None:
    names = ["../../../../tmp/evil", "/etc/passwd", "..\\..\\win.ini", "a/../../b", "\x00nul"]

    async def scenario() -> None:
        data = tmp_path / "data"
        async with running_cloud(data) as server, transport(server, timeout=5) as client:
            for i, name in enumerate(names):
                await client.file_upload(file_metadata(name), chunks_of(b"evil%d" % i), key=f"k{i}")
            stored = server.host.core.query()
            assert sorted(i.file_name or "" for i in stored) == sorted(names)
        outside = [p for p in tmp_path.rglob("*") if not p.is_relative_to(data)]
        assert outside == []
        blob_names = {p.name for p in (data / "blobs").rglob("*") if p.is_file()}
        assert blob_names == {i.blob_sha256 for i in stored}

    run(scenario())


def test_huge_grpc_headers_are_refused_and_the_server_survives(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            with pytest.raises(CloudError) as refused:
                await client.data_capture_upload(tabular_request([{"a": 1}]), key="k" * 20_000)
            assert refused.value.code == "INVALID_ARGUMENT"
            assert "idempotency key: 20000 bytes exceeds the 512-byte limit" in str(refused.value)
            # Beyond HTTP/2's header list limit (64 KiB) the connection itself is refused.
            with pytest.raises(ConnectionError):
                await client.data_capture_upload(tabular_request([{"a": 1}]), key="k" * 70_000)
            assert server.host.core.count() == 0
            await _assert_healthy(server)

    run(scenario())


def test_a_streamed_upload_whose_group_never_ran_leaves_nothing_staged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: a group that failed before running an upload never discarded its staged
    # payload, so a server kept each such file in blobs/tmp/ until it restarted.
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:

            @contextlib.contextmanager
            def cannot_begin() -> Iterator[None]:
                raise CloudError("UNAVAILABLE", "database is locked")
                yield  # pragma: no cover - fails before its first step

            monkeypatch.setattr(server.host.core, "group_commit", cannot_begin)
            for upload in (
                client.streaming_data_capture_upload(
                    streaming_metadata(), chunks_of(b"x" * 200_000), key="s"
                ),
                client.file_upload(file_metadata("log.txt"), chunks_of(b"y" * 200_000), key="f"),
            ):
                with pytest.raises(CloudError, match="UNAVAILABLE"):
                    await upload
            assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
            monkeypatch.undo()
            await _assert_healthy(server)

    run(scenario())


def test_after_a_timeout_the_next_upload_opens_a_new_connection() -> None:
    # Regression: a blackholed connection (NAT expiry, Wi-Fi roam) was kept after the timeout,
    # so every retry went into the same dead socket until the kernel gave up, minutes later.
    async def scenario() -> None:
        accepted: list[asyncio.StreamWriter] = []

        async def blackhole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)
            while await reader.read(65536):  # swallow everything, answer nothing
                pass

        server = await asyncio.start_server(blackhole, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            client = GrpcTransport(port=port, timeout=0.3)
            for attempt in range(2):
                with pytest.raises(TimeoutError, match="reconnecting"):
                    await client.data_capture_upload(tabular_request([{"a": 1}]), key="k")
                assert len(accepted) == attempt + 1
            await client.close()
        finally:
            for writer in accepted:
                writer.close()
            server.close()
            await server.wait_closed()

    run(scenario())


def test_an_unreachable_cloud_is_offline_and_a_call_cut_mid_way_is_a_reset(tmp_path: Path) -> None:
    """The sync engine pauses every upload when the cloud cannot be reached, and backs off
    only the file whose call broke mid-way (see dmsim.sync._classify)."""

    async def scenario() -> None:
        async with running_cloud(tmp_path) as server:
            port = server.port
            async with transport(server, timeout=5) as client:
                server.host.plan.add(RpcFault("cut", "drop_ack", count=1))
                with pytest.raises(ConnectionResetError):
                    await client.data_capture_upload(tabular_request([{"a": 1}]), key="k1")
                await server.stop()
                with pytest.raises(ConnectionError) as refused:
                    await client.data_capture_upload(tabular_request([{"a": 1}]), key="k1")
                assert not isinstance(refused.value, ConnectionResetError)
                assert "cannot reach the cloud" in str(refused.value)
                assert f"{port}" in str(refused.value)

    run(scenario())


def test_reachable_tells_whether_the_cloud_accepts_connections(tmp_path: Path) -> None:
    """The probe a machine runs during an offline pause: a connection, no call counted."""

    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            assert await client.reachable()
            await server.stop()
            assert not await client.reachable()
            assert client.statistics().calls == 0

    run(scenario())
