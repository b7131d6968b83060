"""Property: whatever the faults (lost acks, outages, rejections, crashes before and after the
cloud commits, power cuts), every reading ends in the cloud exactly once and the capture
directory ends empty. Checked reading by reading, by identity."""

from __future__ import annotations

import os
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.sync.sync_fakes import (
    CAPTURE_DIR,
    CRASH_AFTER,
    CRASH_BEFORE,
    DROP_ACK,
    LINK_DOWN,
    OK,
    World,
    binary_metadata,
    binary_record,
    capture_path,
    stored_identities,
    tabular_metadata,
    tabular_readings,
    write_capture,
)

from dmsim.runtime import RngTree
from dmsim.sync import InUseTracker, SyncEngine

ACTIONS = [
    OK,
    DROP_ACK,
    LINK_DOWN,
    CRASH_BEFORE,
    CRASH_AFTER,
    "INTERNAL",
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "RESOURCE_EXHAUSTED",
]
BOOT_SECONDS = 4 * 3600.0  # long enough for any backoff to come round (cap: 1 h)


def populate(world: World, tabular: list[int], binary: list[int]) -> list[tuple[str, int, int]]:
    expected = []
    seq = 0
    for index, count in enumerate(tabular):
        write_capture(
            world.fs,
            capture_path(index),
            tabular_metadata(),
            tabular_readings("t", count, start=seq, pad=30),
        )
        expected += [("t", 1, s) for s in range(seq, seq + count)]
        seq += count
    for index, size in enumerate(binary):
        path = f"{CAPTURE_DIR}/rdk_component_camera/cam/ReadImage/{index:04d}.capture"
        write_capture(world.fs, path, binary_metadata(), [binary_record("b", index, b"p" * size)])
        expected.append(("b", 1, index))
    return sorted(expected)


def boot(world: World, number: int, *, threads: int, cap: int) -> bool:
    """Run one process life; ``True`` if it ended by a crash."""
    rt = world.kernel.process(f"boot{number}")
    world.rt = rt
    world.transport.rt = rt
    world.tracker = InUseTracker()
    engine = SyncEngine(
        rt=rt,
        fs=world.fs.for_process(rt),
        transport=world.transport,
        settings=world.settings(
            maximum_num_sync_threads=threads, max_request_bytes=cap, sync_interval_s=30
        ),
        rng=RngTree(world.seed).child(f"boot{number}"),
        trace=world.trace,
        tracker=world.tracker,
        flush_capture=world.flush,
        is_online=lambda: True,
    )

    async def life() -> None:
        engine.start()
        while world.files() and rt.monotonic() < started + BOOT_SECONDS:
            await rt.sleep(30)
        await engine.close()

    started = rt.monotonic()

    rt.spawn(life(), name="life")
    world.kernel.run(until=world.kernel.now() + BOOT_SECONDS + 1)
    return not rt.alive


@dataclass(frozen=True)
class Case:
    tabular: list[int]  # readings per tabular file
    binary: list[int]  # payload size per binary file
    faults: list[str]  # what happens to successive RPCs (then all succeed)
    threads: int
    cap: int
    power_cut: bool  # each crash is a power cut (SimFS loses what was not durable)
    seed: int


cases = st.builds(
    Case,
    tabular=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    binary=st.lists(st.sampled_from([10, 900_000, 1_200_000]), max_size=3),
    faults=st.lists(st.sampled_from(ACTIONS), max_size=30),
    threads=st.integers(1, 3),
    cap=st.sampled_from([1024, 2048, 1 << 20]),
    power_cut=st.booleans(),
    seed=st.integers(0, 1000),
)


@settings(max_examples=int(os.environ.get("SYNC_FAULT_EXAMPLES", "40")), deadline=None)
@given(cases)
def test_every_reading_reaches_the_cloud_exactly_once(case: Case) -> None:
    world = World(seed=case.seed)
    expected = populate(world, case.tabular, case.binary)
    pending = list(case.faults)
    world.transport.script = lambda rpc, key: pending.pop(0) if pending else OK
    for number in range(len(case.faults) + 2):
        if not boot(world, number, threads=case.threads, cap=case.cap):
            break
        if case.power_cut:
            world.fs.crash()
    assert stored_identities(world.core) == expected
    assert world.files() == []
    # Every resend the cloud saw was recognised by its key (nothing stored twice).
    keys = [c.key for c in world.transport.calls if c.action in (OK, DROP_ACK, CRASH_AFTER)]
    assert world.core.statistics().duplicates == len(keys) - len(set(keys))
