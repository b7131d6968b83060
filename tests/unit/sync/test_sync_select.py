"""File selection: which files a pass hands to workers."""

from __future__ import annotations

import posixpath
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.storage.realfs_faults import deny_listing
from tests.unit.sync.sync_fakes import (
    EPOCH_NS,
    SteppingClock,
    tabular_metadata,
    tabular_readings,
    write_capture,
    write_file,
)

from dmsim.runtime import RngTree
from dmsim.storage._codec import encode_metadata
from dmsim.storage._creation import CreationStamp
from dmsim.storage._naming import format_stem
from dmsim.storage._realfs import RealFS
from dmsim.storage._simfs import SimFS
from dmsim.sync import (
    Candidate,
    FileKind,
    QuietClock,
    SyncRoot,
    file_kind,
    is_ready,
    sync_roots,
    walk_candidates,
)

NOW_NS = EPOCH_NS  # where the SteppingClock starts


def make_fs(clock: list[int]) -> SimFS:
    return SimFS(capacity_bytes=1 << 30, rng=RngTree(0).child("fs"), wall_clock=lambda: clock[0])


def test_file_kinds() -> None:
    assert file_kind("a.capture", in_capture_dir=True) is FileKind.CAPTURE
    assert file_kind("a.capture", in_capture_dir=False) is FileKind.CAPTURE
    assert file_kind("a.prog", in_capture_dir=True) is None
    assert file_kind("a.prog", in_capture_dir=False) is None
    assert file_kind("notes.txt", in_capture_dir=True) is None
    assert file_kind("notes.txt", in_capture_dir=False) is FileKind.ARBITRARY


def candidate(kind: FileKind, size: int, mtime_ns: int) -> Candidate:
    return Candidate("/x/f", kind, SyncRoot("/x", kind is FileKind.CAPTURE), size, mtime_ns)


def test_arbitrary_files_wait_until_unmodified_and_non_empty() -> None:
    old = NOW_NS - 10_000 * 10**6
    assert is_ready(
        candidate(FileKind.ARBITRARY, 5, old), now_ns=NOW_NS, file_last_modified_millis=10_000
    )
    assert not is_ready(
        candidate(FileKind.ARBITRARY, 5, old + 1), now_ns=NOW_NS, file_last_modified_millis=10_000
    )
    assert not is_ready(
        candidate(FileKind.ARBITRARY, 0, old), now_ns=NOW_NS, file_last_modified_millis=10_000
    )
    # A future mtime (wall clock stepped back) counts as age 0, as rdk.
    future = candidate(FileKind.ARBITRARY, 5, NOW_NS + 10**12)
    assert not is_ready(future, now_ns=NOW_NS, file_last_modified_millis=10_000)
    assert is_ready(future, now_ns=NOW_NS, file_last_modified_millis=0)
    # Capture files are ready at once, even empty or brand new.
    assert is_ready(
        candidate(FileKind.CAPTURE, 0, NOW_NS), now_ns=NOW_NS, file_last_modified_millis=10_000
    )


QUIET_MS = 10_000
# what happens between two looks: time passes; the wall clock is set forward or back (as an
# NTP step or an RTC set), or wrong only for a moment while the file is written (set and set
# back, the fuzzer's seed 7575); the file is written
MOVES = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.floats(0.0, 30.0)),
        st.tuples(st.just("step"), st.integers(1, 7200) | st.integers(-7200, -1)),
        st.tuples(st.just("blip"), st.sampled_from([-NOW_NS / 1e9, -3600, 3600])),
        st.tuples(st.just("write"), st.just(0)),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300)
@given(st.lists(MOVES, max_size=30))
def test_after_any_clock_sets_a_file_is_ready_only_once_really_quiet(
    looks: list[list[tuple[str, float]]],
) -> None:
    """Whatever the wall clock does before the start and between two looks, an arbitrary file
    counts as quiet only once it has not been written for a whole quiet period of monotonic
    (real) time."""
    clock = SteppingClock()
    clock.step(-NOW_NS / 1e9)  # the RTC unset before the machine starts: a file stamped 1970
    mtime_ns, written_at = clock.wall_ns(), clock.mono
    clock.step(NOW_NS / 1e9)
    quiet = QuietClock(clock)
    for moves in looks:
        for move, amount in moves:
            if move == "wait":
                clock.mono += amount
            elif move == "step":
                clock.step(amount)
            elif move == "blip":
                clock.step(amount)
                mtime_ns, written_at = clock.wall_ns(), clock.mono
                clock.step(-amount)
            else:
                mtime_ns, written_at = clock.wall_ns(), clock.mono
        if quiet.ready(
            candidate(FileKind.ARBITRARY, 5, mtime_ns), file_last_modified_millis=QUIET_MS
        ):
            assert clock.mono - written_at >= QUIET_MS / 1000


def test_a_clock_set_holds_arbitrary_files_one_quiet_period() -> None:
    clock = SteppingClock()
    quiet = QuietClock(clock)
    long_quiet = candidate(FileKind.ARBITRARY, 5, clock.wall_ns() - 3600 * 10**9)
    # the start holds them too: a set just before it cannot be told
    assert not quiet.ready(long_quiet, file_last_modified_millis=QUIET_MS)
    clock.mono += QUIET_MS / 1000
    assert quiet.ready(long_quiet, file_last_modified_millis=QUIET_MS)
    clock.step(3600)
    clock.mono += 0.5
    assert not quiet.ready(long_quiet, file_last_modified_millis=QUIET_MS)  # held
    assert quiet.ready(candidate(FileKind.CAPTURE, 5, 0), file_last_modified_millis=QUIET_MS)
    clock.mono += QUIET_MS / 1000
    assert quiet.ready(long_quiet, file_last_modified_millis=QUIET_MS)
    clock.offset_ns += 5 * 10**8  # NTP slewing: the kernel counts no set
    assert quiet.ready(long_quiet, file_last_modified_millis=QUIET_MS)


def test_roots_are_normalised_deduplicated_capture_dir_first() -> None:
    roots = sync_roots("/data/capture/", ["/extra", "/data/capture", "/extra/", "/more"])
    assert roots == (
        SyncRoot("/data/capture", True),
        SyncRoot("/extra", False),
        SyncRoot("/more", False),
    )


def test_former_capture_dirs_are_walked_like_the_capture_dir_after_it() -> None:
    roots = sync_roots("/new", ["/extra", "/old"], ["/old/", "/older", "/new"])
    assert roots == (
        SyncRoot("/new", True),
        SyncRoot("/old", True),  # a former capture dir stays one, even if also listed as extra
        SyncRoot("/older", True),
        SyncRoot("/extra", False),
    )


def test_walk_rules_on_a_concrete_tree() -> None:
    clock = [NOW_NS]
    fs = make_fs(clock)
    for path in [
        "/cap/a/1.capture",
        "/cap/a/2.prog",
        "/cap/a/stray.txt",
        "/cap/failed/a/3.capture",
        "/cap/b/failed/4.capture",  # a component named "failed": not quarantine
        "/cap/b/5.capture",
        "/cap/nested/6.txt",
        "/cap/nested/7.capture",
        "/extra/8.txt",
        "/extra/9.prog",
        "/extra/failed/10.txt",
        "/extra/11.capture",
    ]:
        write_file(fs, path, b"x")
    walker = walk_candidates(fs, sync_roots("/cap", ["/extra", "/cap/nested", "/missing"]))
    assert isinstance(walker, types.GeneratorType)  # lazy: the backlog is never listed whole
    found = [(c.path, c.kind, c.root.path) for c in walker]
    # files still being written: the capture directory's, as OPEN (unsynced, never sent)
    assert found == [
        ("/cap/a/1.capture", FileKind.CAPTURE, "/cap"),
        ("/cap/a/2.prog", FileKind.OPEN, "/cap"),
        ("/cap/b/5.capture", FileKind.CAPTURE, "/cap"),
        ("/cap/b/failed/4.capture", FileKind.CAPTURE, "/cap"),
        ("/extra/11.capture", FileKind.CAPTURE, "/extra"),
        ("/extra/8.txt", FileKind.ARBITRARY, "/extra"),
        ("/cap/nested/6.txt", FileKind.ARBITRARY, "/cap/nested"),
        ("/cap/nested/7.capture", FileKind.CAPTURE, "/cap/nested"),
    ]


def test_a_capture_file_still_being_written_is_never_ready() -> None:
    still_open = Candidate("/cap/a/2.prog", FileKind.OPEN, SyncRoot("/cap", True), 5, NOW_NS)
    assert not is_ready(still_open, now_ns=NOW_NS, file_last_modified_millis=0)
    assert not QuietClock(SteppingClock()).ready(still_open, file_last_modified_millis=0)


def test_a_capture_file_named_at_a_time_shown_twice_carries_its_creation_stamp() -> None:
    """After a step back a name may be of either clock, or pushed past the old one (names
    of a collector only increase): the walk reads the header of a file named at a time two
    clocks showed for when dmsim began it; other names are taken as they are, unread."""
    clock = [NOW_NS]
    fs = make_fs(clock)
    named_ns = EPOCH_NS + 80 * 10**9
    shown_twice = range(named_ns, named_ns + 10**9)
    stamp = CreationStamp("stepping", 12 * 10**9)

    def path(directory: str, at_ns: int, suffix: str) -> str:
        return f"/cap/{directory}/{format_stem(at_ns // 1000)}{suffix}"

    stamped = path("a", named_ns, ".capture")
    still_open = path("b", named_ns + 1000, ".prog")
    of_rdk = path("c", named_ns + 2000, ".capture")
    damaged = path("d", named_ns + 3000, ".capture")
    trusted = path("e", named_ns + 2 * 10**9, ".capture")
    header = encode_metadata(tabular_metadata(), stamp)
    write_file(fs, stamped, header + b"".join(tabular_readings("s", 2)))
    write_file(fs, still_open, header)
    write_file(fs, trusted, header)
    write_capture(fs, of_rdk, tabular_metadata(), tabular_readings("s", 2))
    write_file(fs, damaged, b"\xff" * 40)
    walked = walk_candidates(fs, sync_roots("/cap", []), read_creation_if_named=shown_twice)
    assert {c.path: c.creation for c in walked} == {
        stamped: stamp,
        still_open: stamp,
        of_rdk: None,
        damaged: None,  # its name dates it, as any other
        trusted: None,  # not read
    }


segment = st.sampled_from(["a", "b", "failed", "c"])
leaf = st.sampled_from(["x.capture", "y.prog", "z.txt", "w.capture", "v.bin"])
tree = st.lists(
    st.tuples(st.sampled_from(["/cap", "/add"]), st.lists(segment, max_size=3), leaf),
    max_size=25,
)


def reference_walk(paths: set[str], root: str) -> list[str]:
    """Top-down, sorted: a directory's files first, then each subdirectory in name order."""
    prefix = root + "/"
    here = sorted(p for p in paths if posixpath.dirname(p) == root)
    subdirs = sorted(
        {
            p[len(prefix) :].split("/")[0]
            for p in paths
            if p.count("/") > root.count("/") + 1 and p.startswith(prefix)
        }
    )
    out = list(here)
    for sub in subdirs:
        out += reference_walk(paths, posixpath.join(root, sub))
    return out


@settings(max_examples=60)
@given(tree)
def test_walk_yields_exactly_the_syncable_files_once_in_sorted_order(
    files: list[tuple[str, list[str], str]],
) -> None:
    fs = make_fs([NOW_NS])
    paths = {posixpath.join(root, *dirs, name) for root, dirs, name in files}
    for path in sorted(paths):
        write_file(fs, path, b"data")
    walker = walk_candidates(fs, sync_roots("/cap", ["/add"]))
    found = [c.path for c in walker]
    # Quarantine is <capture_dir>/failed, or a failed/ next to an arbitrary file at any depth;
    # files still being written count only in the capture directory.
    syncable = {
        p
        for p in paths
        if not p.startswith("/cap/failed/")
        and not (p.startswith("/add/") and "failed" in p.split("/"))
        and (not p.endswith(".prog") or p.startswith("/cap/"))
        and (p.endswith((".capture", ".prog")) or p.startswith("/add/"))
    }
    expected = [
        p for p in reference_walk(paths, "/cap") + reference_walk(paths, "/add") if p in syncable
    ]
    assert found == expected


def test_files_vanishing_mid_walk_are_skipped() -> None:
    fs = make_fs([NOW_NS])
    write_file(fs, "/cap/a.capture", b"x")
    write_file(fs, "/cap/b.capture", b"x")
    walker = walk_candidates(fs, sync_roots("/cap", []))
    first = next(walker)
    fs.unlink("/cap/b.capture")
    assert first.path == "/cap/a.capture"
    assert list(walker) == []


def test_walk_errors_end_that_root_and_are_reported() -> None:
    fs = make_fs([NOW_NS])
    write_file(fs, "/cap/a.capture", b"x")
    write_file(fs, "/add/b.txt", b"x")
    errors: list[str] = []

    class Broken:
        def __getattr__(self, name: str) -> object:
            return getattr(fs, name)

        def walk(self, root: str, on_error: object = None) -> object:
            if root == "/cap":
                raise OSError(5, "I/O error")
            return fs.walk(root)

    found = list(
        walk_candidates(
            Broken(), sync_roots("/cap", ["/add"]), on_error=lambda r, e: errors.append(r)
        )
    )  # type: ignore[arg-type]
    assert [c.path for c in found] == ["/add/b.txt"]
    assert errors == ["/cap"]


def test_a_directory_that_cannot_be_listed_is_reported_and_the_rest_still_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a/1.capture", "b/2.capture", "c/3.capture"):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).write_bytes(b"x")
    deny_listing(monkeypatch, tmp_path / "b")
    errors: list[str] = []
    found = walk_candidates(
        RealFS(), sync_roots(str(tmp_path), []), on_error=lambda p, e: errors.append(p)
    )
    assert [c.path for c in found] == [f"{tmp_path}/a/1.capture", f"{tmp_path}/c/3.capture"]
    assert errors == [f"{tmp_path}/b"]
