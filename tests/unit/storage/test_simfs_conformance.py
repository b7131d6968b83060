"""The public conformance suite: SimFS passes it, and broken backends are caught by name."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator

import pytest

from dmsim.runtime import RngTree, SimKernel
from dmsim.storage._fs import FileSystem
from dmsim.storage._simfs import SimFS
from dmsim.testing import check_filesystem


def fresh_simfs() -> tuple[FileSystem, str]:
    fs = SimFS(capacity_bytes=1 << 20, rng=RngTree(0), wall_clock=lambda: 1)
    fs.makedirs("/data/root")
    return fs, "/data/root"


def test_simfs_passes() -> None:
    check_filesystem(fresh_simfs)


def test_a_process_view_passes() -> None:
    def make() -> tuple[FileSystem, str]:
        fs, root = fresh_simfs()
        assert isinstance(fs, SimFS)
        return fs.for_process(SimKernel(epoch_ns=0).process("p")), root

    check_filesystem(make)


class UnsortedListdir(SimFS):
    def listdir(self, path: str) -> list[str]:
        return list(reversed(super().listdir(path)))


class TruncatingAppend(SimFS):
    def open_append(self, path: str):  # type: ignore[no-untyped-def]
        if self.exists(path):
            self.unlink(path)
        return super().open_append(path)


class WrongErrno(SimFS):
    def stat(self, path: str):  # type: ignore[no-untyped-def]
        if not self.exists(path):
            raise OSError(errno.EIO, "wrong errno", path)
        return super().stat(path)


class CrashingWalk(SimFS):
    def walk(
        self, root: str, on_error: Callable[[OSError], None] | None = None
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("backend", "failed_check", "reason", "count"),
    [
        (UnsortedListdir, "listdir sorted", "listdir is", 1),
        (TruncatingAppend, "reopen appends", "reopened size() is 0", 2),
        (WrongErrno, "stat size and mtime", "raised errno 5, not ENOENT", 1),
        (CrashingWalk, "walk order and pruning", "unexpected RuntimeError: boom", 1),
    ],
)
def test_a_broken_backend_fails_the_named_check(
    backend: type[SimFS], failed_check: str, reason: str, count: int
) -> None:
    def make() -> tuple[FileSystem, str]:
        fs = backend(capacity_bytes=1 << 20, rng=RngTree(0), wall_clock=lambda: 1)
        fs.makedirs("/r")
        return fs, "/r"

    with pytest.raises(AssertionError) as info:
        check_filesystem(make)
    message = str(info.value)
    assert f"- {failed_check}: " in message
    assert reason in message
    assert f"{count} check(s) failed" in message


def test_every_failure_is_reported_in_one_run() -> None:
    class TwoBugs(UnsortedListdir, WrongErrno):
        pass

    def make() -> tuple[FileSystem, str]:
        fs = TwoBugs(capacity_bytes=1 << 20, rng=RngTree(0), wall_clock=lambda: 1)
        return fs, "/"

    with pytest.raises(AssertionError, match=r"check\(s\) failed") as info:
        check_filesystem(make)
    assert "listdir sorted" in str(info.value)
    assert "stat size and mtime" in str(info.value)
