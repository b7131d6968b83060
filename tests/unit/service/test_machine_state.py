"""`dmsim machine`'s own state: the boot number of its reading identities (stream, boot,
seq), and its status line."""

from __future__ import annotations

import pytest

from dmsim.errors import ConfigError
from dmsim.runtime import RngTree
from dmsim.service._datamanager import DataManagerStatistics
from dmsim.service._machine import next_boot, status_of
from dmsim.storage._simfs import SimFS
from dmsim.sync import SyncStatistics


def fresh_fs() -> SimFS:
    return SimFS(capacity_bytes=1 << 20, rng=RngTree(0), wall_clock=lambda: 0)


def test_each_start_takes_the_next_boot_and_a_crash_cannot_undo_it() -> None:
    fs = fresh_fs()
    first = next_boot(fs, "/cap")
    fs.crash()
    assert next_boot(fs, "/cap") == first + 1  # stored durably before capture begins
    assert next_boot(fs, "/cap/") == first + 2


def test_a_new_capture_directory_does_not_start_at_zero() -> None:
    # Regression: a wiped capture directory (or a second one syncing as the same part) began
    # again at boot 0 and reused identities the cloud already held for other readings.
    boots = {next_boot(fresh_fs(), "/cap") for _ in range(8)}
    assert len(boots) == 8
    assert all(0 <= boot < 2**31 for boot in boots)


def test_a_counter_at_the_uint32_limit_starts_afresh() -> None:
    fs = fresh_fs()
    fs.makedirs("/cap/.dmsim")
    handle = fs.open_append("/cap/.dmsim/boot")
    handle.write(f"{2**32 - 1}\n".encode())
    handle.close()
    assert next_boot(fs, "/cap") < 2**31


def test_a_damaged_counter_is_a_clear_error() -> None:
    fs = fresh_fs()
    fs.makedirs("/cap/.dmsim")
    handle = fs.open_append("/cap/.dmsim/boot")
    handle.write(b"twelve\n")
    handle.close()
    with pytest.raises(ConfigError, match="boot counter is not a number: 'twelve'"):
        next_boot(fs, "/cap")


def test_the_status_line_shows_offline_pauses() -> None:
    # Regression: through a whole outage the line said "failed attempts 0": offline failures
    # pause every upload instead of counting against a file.
    stats = DataManagerStatistics(
        boot=0, collectors=(), sync=SyncStatistics(offline_pauses=3), disk_policies=(),
        recovery=None,
    )  # fmt: skip
    assert "failed attempts 0  offline pauses 3" in status_of(stats, 12.0).line()
    calm = DataManagerStatistics(0, (), SyncStatistics(), (), None)
    assert "offline" not in status_of(calm, 12.0).line()
