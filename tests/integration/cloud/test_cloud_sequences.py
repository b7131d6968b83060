"""CreateSequence over real gRPC on loopback: the data API's method served beside
DataSyncService on the same port, idempotent by key, refused with a precise status when it is
not a sequence, subject to the cloud's fault plan, and listed by ``dmsim cloud sequences``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from tests.integration.cloud.cloud_env import running_cloud, transport
from viam.proto.app.data import (
    CreateSequenceRequest,
    DataServiceStub,
    SequenceResourceFilter,
)

from dmsim.cloud import RpcFault
from dmsim.errors import CloudError

NS = 1_000_000_000


def request(start_s: int = 1_767_225_600, length_s: int = 30) -> CreateSequenceRequest:
    start, end = Timestamp(), Timestamp()
    start.FromNanoseconds(start_s * NS)
    end.FromNanoseconds((start_s + length_s) * NS)
    return CreateSequenceRequest(
        part_id="part-1",
        resources=[SequenceResourceFilter(resource_name="cam", method_name="GetImages")],
        sequence_tags=["run-1"],
        start_time=start,
        end_time=end,
    )


def test_the_sync_client_creates_a_sequence_once_per_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            first = await client.create_sequence(request(), key="seq-1")
            again = await client.create_sequence(request(), key="seq-1")
            other = await client.create_sequence(request(length_s=60), key="seq-2")
            assert first.id == again.id != other.id
            stored = server.host.core.sequences()
            assert [s.sequence_id for s in stored] == [first.id, other.id]
            assert stored[0].resources == (("cam", "GetImages"),)
            assert [e.outcome for e in server.host.plan.timeline()] == ["ok", "duplicate", "ok"]

    asyncio.run(scenario())


def test_viams_own_stub_reaches_it_and_a_bad_sequence_is_invalid_argument(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server:
            channel = Channel("127.0.0.1", server.port)
            try:
                stub = DataServiceStub(channel)
                reply = await stub.CreateSequence(request())
                assert reply.id
                backwards = request(length_s=-5)
                with pytest.raises(GRPCError) as caught:
                    await stub.CreateSequence(backwards)
                assert caught.value.status is Status.INVALID_ARGUMENT
                assert "end_time is before start_time" in (caught.value.message or "")
            finally:
                channel.close()

    asyncio.run(scenario())


def test_the_fault_plan_applies_to_create_sequence(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            server.host.plan.add(
                RpcFault("r1", "reject", rpcs=frozenset({"CreateSequence"}), count=1)
            )
            with pytest.raises(CloudError) as caught:
                await client.create_sequence(request(), key="k")
            assert caught.value.code == "UNAVAILABLE"
            await client.create_sequence(request(), key="k")
            assert len(server.host.core.sequences()) == 1

    asyncio.run(scenario())


def test_cloud_sequences_lists_them(tmp_path: Path) -> None:
    async def fill() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            await client.create_sequence(request(), key="k")

    asyncio.run(fill())
    done = subprocess.run(
        [sys.executable, "-m", "dmsim.cli", "cloud", "sequences", "--data", str(tmp_path),
         "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (line,) = done.stdout.splitlines()
    document = json.loads(line)
    assert document["start_time"] == "2026-01-01T00:00:00.000000000Z"
    assert document["end_time"] == "2026-01-01T00:00:30.000000000Z"
    assert document["sequence_tags"] == ["run-1"]
    assert document["resources"] == [{"resource_name": "cam", "method_name": "GetImages"}]
