"""A directory's owner lock (flock): one running dmsim writes to a directory at a time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dmsim.storage._lock import DirectoryBusy, directory_lock


def test_the_lock_is_exclusive_names_its_holder_and_is_free_again_after(tmp_path: Path) -> None:
    directory = str(tmp_path / "capture")
    holder = rf"in use by a running dmsim \(pid {os.getpid()}\); cannot recover it"
    with directory_lock(directory, purpose="run"):
        assert (tmp_path / "capture" / ".dmsim" / "lock").read_text() == f"{os.getpid()}\n"
        with (
            pytest.raises(DirectoryBusy, match=holder),
            directory_lock(directory, purpose="recover it"),
        ):
            pass
    with directory_lock(directory, purpose="recover it"):  # released: taken again
        pass


def test_a_failure_inside_the_block_still_releases_the_lock(tmp_path: Path) -> None:
    directory = str(tmp_path / "capture")
    with pytest.raises(RuntimeError), directory_lock(directory, purpose="run"):
        raise RuntimeError("boom")
    with directory_lock(directory, purpose="run"):
        pass
