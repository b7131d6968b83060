"""One running cloud: a :class:`CloudCore`, its fault plan and the thread that serialises every
call into the core, shared by the gRPC server and the HTTP API of the same process.

The core is synchronous (SQLite, fsync): calls run on a single worker thread so they never
stall the event loop and never interleave. Uploads go through :meth:`CloudHost.submit`,
which commits them in groups: while the thread commits one group, the uploads that arrive
queue up and become the next group — one fsync for the lot, each upload still atomic, each
acknowledged only after its group committed (classic group commit; at low load a group is
one upload and nothing waits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from dmsim.errors import CloudError
from dmsim.runtime import Runtime

from ._core import CloudCore
from ._faults import RpcFaultPlan
from ._records import IngestResult

__all__ = ["CloudHost", "HostStatistics"]

T = TypeVar("T")
Outcome = IngestResult | Exception


@dataclass(frozen=True, slots=True)
class HostStatistics:
    """Group commits so far: how many, how many uploads they carried, the largest one."""

    groups: int
    grouped_uploads: int
    largest_group: int


class CloudHost:
    """``runtime`` gives the fault plan's clock (seconds since the host started) and waits."""

    def __init__(
        self,
        core: CloudCore,
        *,
        runtime: Runtime,
        plan: RpcFaultPlan | None = None,
        max_group: int = 256,
    ) -> None:
        self.core = core
        self.plan = plan if plan is not None else RpcFaultPlan()
        self.runtime = runtime
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dmsim-cloud-core")
        self._max_group = max_group
        self._queue: list[tuple[Callable[[], IngestResult], asyncio.Future[IngestResult]]] = []
        self._committer: asyncio.Task[None] | None = None
        self._groups = self._grouped = self._largest = 0

    def now(self) -> float:
        """The fault plan's clock: seconds since the host started."""
        return self.runtime.monotonic()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the core's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def submit(self, fn: Callable[[], IngestResult]) -> asyncio.Future[IngestResult]:
        """Queue one ``core.ingest_*`` call for the next group commit. The future holds its
        result once durable; it completes even if whoever awaits it is cancelled."""
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._queue.append((fn, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.ensure_future(self._commit_groups())
        return future

    async def _commit_groups(self) -> None:
        while self._queue:
            group = self._queue[: self._max_group]
            del self._queue[: len(group)]
            outcomes = await self.call(self._run_group, [fn for fn, _ in group])
            self._groups += 1
            self._grouped += len(group)
            self._largest = max(self._largest, len(group))
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.cancelled():  # its caller stopped waiting; the outcome stands
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _run_group(self, calls: list[Callable[[], IngestResult]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            with self.core.group_commit():
                for call in calls:
                    try:
                        outcomes.append(call())
                    except Exception as error:  # this upload fails alone (its savepoint)
                        outcomes.append(error)
        except CloudError as error:  # the group failed: none of it is stored
            # every call gets an answer, also those the failure kept from running
            done: list[Outcome] = [o if isinstance(o, Exception) else error for o in outcomes]
            return done + [error] * (len(calls) - len(done))
        return outcomes

    def statistics(self) -> HostStatistics:
        return HostStatistics(self._groups, self._grouped, self._largest)

    def close(self) -> None:
        """Finish pending core calls, then close the core."""
        self._executor.shutdown(wait=True)
        self.core.close()
