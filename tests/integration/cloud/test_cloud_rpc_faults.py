"""Each RPC fault enacted by the real gRPC server: what the client sees (ok / fail / unknown),
what the cloud stored, and that a resend with the same key ends with exactly one copy."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from tests.integration.cloud.cloud_env import chunks_of, running_cloud, transport

from dmsim.cloud import RpcFault
from dmsim.cloud.samples import file_metadata, streaming_metadata
from dmsim.errors import CloudError

pytestmark = pytest.mark.timeout(60)

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB: four 64 KiB chunks


@dataclass(frozen=True)
class Case:
    fault: RpcFault
    client_sees: type[BaseException] | None  # None = a response
    code: str | None  # CloudError code when client_sees is CloudError
    stored: bool  # after the faulty call
    outcome: str  # the timeline's outcome for the faulty call
    timeout: float = 5.0


CASES = {
    "reject UNAVAILABLE": Case(
        RpcFault("f", "reject", code="UNAVAILABLE"),
        CloudError,
        "UNAVAILABLE",
        False,
        "error:UNAVAILABLE",
    ),
    "reject UNAUTHENTICATED": Case(
        RpcFault("f", "reject", code="UNAUTHENTICATED"),
        CloudError,
        "UNAUTHENTICATED",
        False,
        "error:UNAUTHENTICATED",
    ),
    "reject INTERNAL": Case(
        RpcFault("f", "reject", code="INTERNAL"), CloudError, "INTERNAL", False, "error:INTERNAL"
    ),
    "storage full": Case(
        RpcFault("f", "storage_full"),
        CloudError,
        "RESOURCE_EXHAUSTED",
        False,
        "error:RESOURCE_EXHAUSTED",
    ),
    "commit then drop the ack": Case(
        RpcFault("f", "drop_ack"), ConnectionResetError, None, True, "dropped"
    ),
    "slow ack within the deadline": Case(
        RpcFault("f", "slow_ack", seconds=0.3), None, None, True, "ok"
    ),
    "slow ack past the deadline": Case(
        RpcFault("f", "slow_ack", seconds=10.0),
        TimeoutError,
        None,
        True,
        "cancelled-after-commit",
        timeout=3.0,
    ),
    "stall mid-stream until the client gives up": Case(
        RpcFault("f", "stall", after_bytes=100_000),
        TimeoutError,
        None,
        False,
        "cancelled",
        timeout=0.5,
    ),
    "stall mid-stream for a while": Case(
        RpcFault("f", "stall", after_bytes=100_000, seconds=0.3), None, None, True, "ok"
    ),
    "restart mid-stream before commit": Case(
        RpcFault("f", "restart", after_bytes=100_000), ConnectionResetError, None, False, "crashed"
    ),
    "restart after commit": Case(
        RpcFault("f", "restart", commit=True), ConnectionResetError, None, True, "crashed"
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_fault_outcome_and_exactly_once_after_resend(tmp_path: Path, case: Case) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server:
            core, plan = server.host.core, server.host.plan
            plan.add(RpcFault(**{**_fields(case.fault), "count": 1}))
            metadata = streaming_metadata()
            async with transport(server, timeout=case.timeout) as client:
                upload = client.streaming_data_capture_upload(
                    metadata, chunks_of(PAYLOAD), key="the-key"
                )
                if case.client_sees is None:
                    await upload
                else:
                    with pytest.raises(case.client_sees) as seen:
                        await upload
                    if case.code is not None:
                        assert isinstance(seen.value, CloudError)
                        assert seen.value.code == case.code
                        assert (
                            "injected fault f" in str(seen.value)
                            or case.code == "RESOURCE_EXHAUSTED"
                        )
            await _settle(lambda: plan.timeline()[0].outcome != "pending")
            assert core.count() == (1 if case.stored else 0)
            (entry,) = plan.timeline()
            assert (entry.decision, entry.fault_id, entry.outcome) == (
                case.fault.kind, "f", case.outcome,
            )  # fmt: skip
            async with transport(server, timeout=5) as retry:
                again = await retry.streaming_data_capture_upload(
                    metadata, chunks_of(PAYLOAD), key="the-key"
                )
            assert again.binary_data_id
            (item,) = core.query()
            assert core.read_blob(item.item_id) == PAYLOAD
            assert plan.timeline()[-1].outcome == ("duplicate" if case.stored else "ok")
        assert not list((tmp_path / "blobs" / "tmp").iterdir())  # nothing staged is left

    asyncio.run(scenario())


def test_slow_ack_takes_its_time(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            server.host.plan.add(RpcFault("slow", "slow_ack", seconds=0.4, count=1))
            loop = asyncio.get_running_loop()
            started = loop.time()
            await client.file_upload(file_metadata("a"), chunks_of(b"abc"), key="k")
            assert loop.time() - started >= 0.4

    asyncio.run(scenario())


def test_storage_full_still_acknowledges_a_stored_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as server, transport(server, timeout=5) as client:
            metadata = streaming_metadata()
            await client.streaming_data_capture_upload(metadata, chunks_of(b"a"), key="old")
            server.host.plan.add(RpcFault("full", "storage_full"))
            again = await client.streaming_data_capture_upload(metadata, chunks_of(b"a"), key="old")
            assert again.binary_data_id
            with pytest.raises(CloudError, match="RESOURCE_EXHAUSTED"):
                await client.streaming_data_capture_upload(metadata, chunks_of(b"b"), key="new")
            assert server.host.core.count() == 1

    asyncio.run(scenario())


def _refuse_non_standard_json(constant: str) -> None:
    raise AssertionError(f"non-standard JSON constant {constant}")


def test_fault_api_refuses_non_finite_seconds(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path, http=True) as server, aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{server.http_port}/api/faults"
            for seconds in ("Infinity", "NaN", "-1"):
                body = f'{{"fault_id": "f", "kind": "slow_ack", "seconds": {seconds}}}'
                headers = {"Content-Type": "application/json"}
                async with http.post(base, data=body, headers=headers) as response:
                    assert response.status == 400
                    assert "fault[f].seconds: must be" in (await response.json())["message"]
            async with http.get(base) as response:
                listed = json.loads(await response.text(), parse_constant=_refuse_non_standard_json)
            assert listed["faults"] == []

    asyncio.run(scenario())


def _fields(fault: RpcFault) -> dict[str, object]:
    return {name: getattr(fault, name) for name in fault.__slots__}


async def _settle(done: object, timeout: float = 15.0) -> None:
    """Wait until the server has finished the call it was handling."""
    assert callable(done)
    deadline = asyncio.get_running_loop().time() + timeout
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "the server never finished the call"
        await asyncio.sleep(0.01)
