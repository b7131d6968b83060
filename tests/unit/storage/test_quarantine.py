"""Quarantine in ``failed/``, shared by start-up recovery and sync: nothing is ever overwritten."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.storage.storage_kit import put, read

from dmsim.runtime import RngTree
from dmsim.storage._quarantine import REASON_SUFFIX, move_to_failed
from dmsim.storage._recovery import recover_capture_dir
from dmsim.storage._simfs import SimFS

PROG = "/cap/rdk_component_sensor/s/Readings/2026-06-17T17_04_32.032650Z.prog"


def make_fs() -> SimFS:
    return SimFS(capacity_bytes=1 << 24, rng=RngTree(3), wall_clock=lambda: 0)


def quarantined(fs: SimFS) -> dict[str, bytes]:
    return {
        f"{d}/{name}": read(fs, f"{d}/{name}")
        for d, _, names in fs.walk("/cap/failed")
        for name in names
    }


# Files recovery cannot read (no header): each one goes to failed/ whole.
unreadable = st.binary(min_size=1, max_size=40).map(lambda b: b"\xff" + b)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(unreadable, st.booleans()), min_size=1, max_size=5))
def test_every_file_sent_to_failed_under_one_name_is_kept_with_its_own_reason(
    arrivals: list[tuple[bytes, bool]],
) -> None:
    fs = make_fs()
    for n, (data, by_recovery) in enumerate(arrivals):
        put(fs, PROG, data, durable=True)
        if by_recovery:
            [failed] = recover_capture_dir(fs, "/cap").failed
            assert failed.reason_recorded
        else:
            move_to_failed(fs, PROG, "/cap", f"sync refused copy {n}")
    kept = quarantined(fs)
    data_files = {p: b for p, b in kept.items() if not p.endswith(REASON_SUFFIX)}
    assert sorted(data_files.values()) == sorted(data for data, _ in arrivals)
    assert all(kept[path + REASON_SUFFIX] for path in data_files)
    fs.crash()  # every move and every reason is durable
    assert quarantined(fs) == kept


def test_a_name_whose_reason_file_is_left_is_not_reused() -> None:
    # A reason left without its file (the file was taken away by hand) is not appended to.
    fs = make_fs()
    put(fs, "/cap/failed/s/a.capture" + REASON_SUFFIX, b"old reason\n", durable=True)
    put(fs, "/cap/s/a.capture", b"data", durable=True)
    destination, _ = move_to_failed(fs, "/cap/s/a.capture", "/cap", "new reason")
    assert destination == "/cap/failed/s/a-1.capture"
    assert read(fs, "/cap/failed/s/a.capture" + REASON_SUFFIX) == b"old reason\n"
    assert read(fs, destination + REASON_SUFFIX) == b"new reason\n"
