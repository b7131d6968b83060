"""CloudHost: uploads submitted together commit as one group; each succeeds or fails alone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest

from dmsim.cloud import CloudCore, CloudHost, IngestResult
from dmsim.cloud.samples import tabular_request
from dmsim.errors import CloudError
from dmsim.runtime import RealRuntime


def test_concurrent_uploads_share_group_commits() -> None:
    async def scenario() -> None:
        host = CloudHost(CloudCore(clock=lambda: 1.7e9), runtime=RealRuntime())
        try:

            def upload(i: int) -> IngestResult:
                part = "" if i == 7 else "p"  # upload 7 is invalid
                request = tabular_request([{"i": i}], part_id=part)
                return host.core.ingest_data_capture(request, key=f"k{i}")

            results = await asyncio.gather(
                *(host.submit(lambda i=i: upload(i)) for i in range(50)),  # type: ignore[misc]
                return_exceptions=True,
            )
            failed = [i for i, r in enumerate(results) if isinstance(r, CloudError)]
            assert failed == [7]
            assert host.core.count() == 49
            stats = host.statistics()
            assert stats.grouped_uploads == 50
            assert stats.groups < 50  # the first group commits alone, the rest together
            assert stats.largest_group > 1
        finally:
            host.close()

    asyncio.run(scenario())


def test_a_caller_that_gives_up_still_gets_its_upload_committed() -> None:
    async def scenario() -> None:
        host = CloudHost(CloudCore(clock=lambda: 1.7e9), runtime=RealRuntime())
        try:
            future = host.submit(
                lambda: host.core.ingest_data_capture(tabular_request([{"a": 1}]), key="k")
            )
            waiter = asyncio.ensure_future(asyncio.shield(future))
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            assert not (await future).duplicate
            assert host.core.count() == 1
        finally:
            host.close()

    asyncio.run(scenario())


def test_a_waiter_cancelled_twice_does_not_stop_the_rest_of_its_group() -> None:
    """A call cancelled again while it waits for its commit cancels the commit's future; the
    others in that group must still get their results (they were left waiting forever)."""

    async def scenario() -> None:
        host = CloudHost(CloudCore(clock=lambda: 1.7e9), runtime=RealRuntime())
        try:

            def upload(i: int) -> IngestResult:
                return host.core.ingest_data_capture(tabular_request([{"i": i}]), key=f"k{i}")

            first, gone, last = (host.submit(lambda i=i: upload(i)) for i in range(3))  # type: ignore[misc]
            gone.cancel()
            async with asyncio.timeout(10):
                await asyncio.gather(first, last)
                await host.submit(lambda: upload(3))
            assert host.core.count() == 4
        finally:
            host.close()

    asyncio.run(scenario())


def test_a_group_that_cannot_even_begin_answers_every_upload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: a failure opening the group (e.g. the database locked) left the group's
    # uploads waiting forever.
    async def scenario() -> None:
        host = CloudHost(CloudCore(clock=lambda: 1.7e9), runtime=RealRuntime())

        @contextlib.contextmanager
        def cannot_begin() -> Iterator[None]:
            raise CloudError("UNAVAILABLE", "database is locked")
            yield  # pragma: no cover - a generator that fails before its first step

        monkeypatch.setattr(host.core, "group_commit", cannot_begin)
        try:
            calls = [
                host.submit(lambda i=i: host.core.ingest_data_capture(  # type: ignore[misc]
                    tabular_request([{"i": i}]), key=f"k{i}"))
                for i in range(3)
            ]  # fmt: skip
            results = await asyncio.wait_for(
                asyncio.gather(*calls, return_exceptions=True), timeout=10
            )
            assert all(isinstance(r, CloudError) for r in results)
            assert host.core.count() == 0
        finally:
            host.close()

    asyncio.run(scenario())
