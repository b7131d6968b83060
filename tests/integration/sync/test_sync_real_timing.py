"""The sync scheduler on the real (asyncio) runtime and disk: a failed upload is retried when
its backoff ends, not at the next pass, with the engine's own timers (asyncio's, not simulated
time's exact ones) waking it for each retry."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from tests.unit.sync.sync_fakes import (
    OK,
    ScriptedTransport,
    stored_identities,
    tabular_metadata,
    tabular_readings,
    write_capture,
)

from dmsim.cloud import CloudCore
from dmsim.runtime import RealRuntime, RngTree
from dmsim.storage._realfs import RealFS
from dmsim.sync import InUseTracker, SyncEngine, SyncSettings
from dmsim.sync._backoff import BackoffPolicy

pytestmark = pytest.mark.timeout(60)

INITIAL_S = 0.05
FAILURES = 4  # retries after 0.05, 0.1, 0.2 and 0.4 s: 0.75 s in all, far below the interval


def test_retries_run_at_their_backoff_on_the_real_runtime(tmp_path: Path) -> None:
    fs = RealFS()
    capture = tmp_path / "capture"
    path = f"{capture}/sensor/Readings/a.capture"
    write_capture(fs, path, tabular_metadata(), tabular_readings("t", 10))
    rt = RealRuntime()
    core = CloudCore(clock=lambda: rt.wall_ns() / 1e9)
    attempts: list[float] = []

    def script(rpc: str, key: str) -> str:
        attempts.append(rt.monotonic())
        return "INTERNAL" if len(attempts) <= FAILURES else OK

    transport = ScriptedTransport(rt, core, script=script)

    async def body() -> None:
        engine = SyncEngine(
            rt=rt,
            fs=fs,
            transport=transport,
            settings=SyncSettings(
                capture_dir=str(capture), part_id="part-1", sync_interval_s=3600.0
            ),
            rng=RngTree(3),
            trace=None,
            tracker=InUseTracker(),
            flush_capture=_nothing,
            is_online=lambda: True,
            backoff=BackoffPolicy(initial_s=INITIAL_S, jitter=0.0),
        )
        engine.start()
        try:
            report = await engine.sync_now()  # the first attempt fails; retries follow alone
            assert report.failed == 1
            deadline = rt.monotonic() + 20.0
            while Path(path).exists() and rt.monotonic() < deadline:
                await rt.sleep(0.02)
        finally:
            await engine.close()

    rt.run_main(body())
    assert not Path(path).exists(), f"still on disk after attempts at {attempts}"
    assert stored_identities(core) == [("t", 1, seq) for seq in range(10)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert len(gaps) == FAILURES
    for attempt, gap in enumerate(gaps, start=1):
        wait = INITIAL_S * 2 ** (attempt - 1)
        # never before its backoff, and soon after it: not at the next pass an hour later
        assert wait - 1e-3 <= gap < wait + 1.0, (attempt, gaps)


async def _nothing() -> None:
    return None
