"""Disk policy decisions, tested directly: every branch of both rules, and name timestamps."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import ConfigError
from dmsim.storage._fs import DiskUsage
from dmsim.storage._policies import (
    RULE_BYTE_CAP,
    RULE_DISK_FULL,
    ByteCapRule,
    CaptureDirScan,
    CaptureFile,
    DiskFullRule,
    capture_time_ns,
    is_deletable,
    name_timestamp_ns,
    plan_byte_cap,
    plan_disk_full,
)

CAP = "/cap"
FULL = DiskUsage(total_bytes=1000, avail_bytes=50)  # 95 % used, 950 bytes used


def nobody(path: str) -> bool:
    return False


def scan(*entries: tuple[str, int]) -> CaptureDirScan:
    return CaptureDirScan((CAP,), tuple(CaptureFile(f"{CAP}/{p}", size, 0) for p, size in entries))


def stream(directory: str, count: int, size: int = 100) -> list[tuple[str, int]]:
    return [(f"{directory}/2026-01-01T00_00_{i:02d}.000000Z.capture", size) for i in range(count)]


def paths(plan_victims: tuple[CaptureFile, ...]) -> list[str]:
    return [v.path.removeprefix(f"{CAP}/") for v in plan_victims]


# -- which files a policy may ever touch -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "deletable"),
    [
        ("/cap/rdk_component_sensor/s/Readings/x.capture", True),
        ("/cap/x.capture", True),
        ("/cap/a/x.prog", False),
        ("/cap/a/x.capture.prog", False),
        ("/cap/a/x.capture.bak", False),
        ("/cap/a/notes.txt", False),
        ("/cap/failed/a/x.capture", False),
        ("/cap/rdk_component_sensor/failed/Readings/x.capture", True),  # a sensor "failed"
        ("/cap/failed.capture", True),
        ("/cap2/a/x.capture", False),
        ("/other/x.capture", False),
    ],
)
def test_only_completed_captures_inside_the_capture_dir_outside_failed(
    path: str, deletable: bool
) -> None:
    assert is_deletable("/cap", path) is deletable
    assert is_deletable("/cap/", path) is deletable


# -- disk-full rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "attribute"),
    [
        ({"disk_usage_deletion_threshold": 1.5}, "disk_usage_deletion_threshold"),
        ({"disk_usage_deletion_threshold": -0.1}, "disk_usage_deletion_threshold"),
        ({"capture_dir_deletion_threshold": 2.0}, "capture_dir_deletion_threshold"),
        ({"delete_every_nth_when_disk_full": 0}, "delete_every_nth_when_disk_full"),
    ],
)
def test_bad_rule_attributes_are_named(kwargs: dict[str, float], attribute: str) -> None:
    with pytest.raises(ConfigError, match=attribute):
        DiskFullRule(**kwargs)  # type: ignore[arg-type]


def test_every_bad_attribute_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        DiskFullRule(
            disk_usage_deletion_threshold=2,
            capture_dir_deletion_threshold=2,
            delete_every_nth_when_disk_full=0,
        )
    assert len(info.value.problems) == 3


def test_defaults_are_viams() -> None:
    rule = DiskFullRule()
    assert (rule.disk_usage_deletion_threshold, rule.capture_dir_deletion_threshold) == (0.9, 0.5)
    assert rule.delete_every_nth_when_disk_full == 5
    assert rule.name == RULE_DISK_FULL


def test_below_the_disk_threshold_nothing_happens() -> None:
    usage = DiskUsage(total_bytes=1000, avail_bytes=101)  # 89.9 % used
    rule = DiskFullRule()
    plan = plan_disk_full(scan(*stream("a", 10)), usage, rule, in_use=nobody)
    assert (plan.victims, plan.skipped_in_use, plan.warning) == ((), (), None)
    assert not rule.wants_scan(usage)
    assert rule.wants_scan(DiskUsage(total_bytes=1000, avail_bytes=100))


def test_disk_full_but_captures_small_only_warns() -> None:
    files = scan(*stream("a", 4))  # 400 of 950 used bytes = 42 %
    plan = plan_disk_full(files, FULL, DiskFullRule(), in_use=nobody)
    assert plan.victims == ()
    assert plan.warning is not None
    assert "95.0% full" in plan.warning
    assert "42.1% of the used space" in plan.warning
    assert "deleting nothing" in plan.warning


def test_the_share_is_of_used_bytes_not_of_the_disk() -> None:
    # 480 bytes of captures: 50.5 % of the 950 used bytes (docs: delete), 48 % of the disk
    # (rdk's denominator: warn only).
    files = scan(*stream("a", 4, size=120))
    plan = plan_disk_full(files, FULL, DiskFullRule(), in_use=nobody)
    assert plan.warning is None
    assert paths(plan.victims) == ["a/2026-01-01T00_00_00.000000Z.capture"]


def test_every_nth_with_one_index_across_directories() -> None:
    files = scan(*stream("a", 4), *stream("b", 4), *stream("c", 3))
    plan = plan_disk_full(files, FULL, DiskFullRule(), in_use=nobody)
    assert paths(plan.victims) == [
        "a/2026-01-01T00_00_00.000000Z.capture",  # index 0: oldest of the first directory
        "b/2026-01-01T00_00_01.000000Z.capture",  # index 5
        "c/2026-01-01T00_00_02.000000Z.capture",  # index 10
    ]


def test_prog_failed_and_other_files_count_in_the_share_but_are_never_chosen() -> None:
    files = scan(
        ("a/2026-01-01T00_00_09.000000Z.prog", 200),
        ("failed/a/old.capture", 200),
        ("notes.txt", 100),
        *stream("a", 2),
    )
    plan = plan_disk_full(
        files, FULL, DiskFullRule(delete_every_nth_when_disk_full=1), in_use=nobody
    )
    assert plan.warning is None  # 700 of 950 used bytes
    assert paths(plan.victims) == [p for p, _ in stream("a", 2)]


def test_a_file_in_use_is_skipped_and_still_advances_the_index() -> None:
    files = scan(*stream("a", 11))
    busy = f"{CAP}/a/2026-01-01T00_00_05.000000Z.capture"
    plan = plan_disk_full(files, FULL, DiskFullRule(), in_use=lambda p: p == busy)
    assert paths(plan.victims) == [
        "a/2026-01-01T00_00_00.000000Z.capture",
        "a/2026-01-01T00_00_10.000000Z.capture",
    ]
    assert plan.skipped_in_use == (busy,)


def test_zero_thresholds_always_delete() -> None:
    rule = DiskFullRule(disk_usage_deletion_threshold=0.0, capture_dir_deletion_threshold=0.0)
    empty_disk = DiskUsage(total_bytes=1000, avail_bytes=1000)
    plan = plan_disk_full(scan(*stream("a", 3)), empty_disk, rule, in_use=nobody)
    assert len(plan.victims) == 1


@given(
    counts=st.lists(st.integers(0, 12), min_size=1, max_size=6),
    n=st.integers(1, 7),
    busy=st.sets(st.integers(0, 80)),
)
def test_each_pass_deletes_about_one_in_n(counts: list[int], n: int, busy: set[int]) -> None:
    entries = [e for i, c in enumerate(counts) for e in stream(f"d{i}", c)]
    files = scan(*entries)
    busy_paths = {files.files[i].path for i in busy if i < len(files.files)}
    rule = DiskFullRule(delete_every_nth_when_disk_full=n)
    filled = DiskUsage(total_bytes=max(1, files.total_bytes), avail_bytes=0)
    plan = plan_disk_full(files, filled, rule, in_use=busy_paths.__contains__)
    chosen = len(plan.victims) + len(plan.skipped_in_use)
    assert chosen == -(-len(entries) // n)
    assert not {v.path for v in plan.victims} & busy_paths
    assert set(plan.skipped_in_use) <= busy_paths


# -- byte cap --------------------------------------------------------------------------------


def test_bad_cap_is_named() -> None:
    with pytest.raises(ConfigError, match="cap_bytes"):
        ByteCapRule(cap_bytes=0)


def test_under_the_cap_nothing_happens() -> None:
    rule = ByteCapRule(cap_bytes=1000)
    plan = plan_byte_cap(scan(*stream("a", 10)), rule, in_use=nobody)
    assert (plan.victims, plan.warning, plan.rule) == ((), None, RULE_BYTE_CAP)
    assert rule.wants_scan(FULL)


def test_over_the_cap_oldest_first_across_directories_until_at_most_the_cap() -> None:
    files = scan(
        ("a/2026-01-01T00_00_30.000000Z.capture", 100),
        ("a/2026-01-01T00_00_40.000000Z.capture", 100),
        ("b/2026-01-01T00_00_10.000000Z.capture", 100),
        ("b/2026-01-01T00_00_35.000000Z.capture", 100),
        ("c/2026-01-01T01_00_20.000000+01_00.capture", 100),  # 00:00:20 UTC
    )
    plan = plan_byte_cap(files, ByteCapRule(cap_bytes=250), in_use=nobody)
    assert paths(plan.victims) == [
        "b/2026-01-01T00_00_10.000000Z.capture",
        "c/2026-01-01T01_00_20.000000+01_00.capture",
        "a/2026-01-01T00_00_30.000000Z.capture",
    ]
    assert plan.warning is None


def test_byte_cap_skips_files_in_use_and_takes_the_next_oldest() -> None:
    files = scan(*stream("a", 4))
    oldest = files.files[0].path
    plan = plan_byte_cap(files, ByteCapRule(cap_bytes=300), in_use=lambda p: p == oldest)
    assert paths(plan.victims) == ["a/2026-01-01T00_00_01.000000Z.capture"]
    assert plan.skipped_in_use == (oldest,)


def test_byte_cap_warns_when_undeletable_files_exceed_it() -> None:
    files = scan(("a/x.prog", 500), ("failed/a/y.capture", 500), *stream("a", 2))
    plan = plan_byte_cap(files, ByteCapRule(cap_bytes=600), in_use=nobody)
    assert len(plan.victims) == 2
    assert plan.warning is not None
    assert "1000 bytes, over its cap of 600" in plan.warning


def test_names_without_a_timestamp_are_ordered_by_mtime() -> None:
    files = CaptureDirScan(
        (CAP,),
        (
            CaptureFile(f"{CAP}/a/zzz.capture", 100, mtime_ns=1),
            CaptureFile(f"{CAP}/a/2026-01-01T00_00_00.000000Z.capture", 100, mtime_ns=9),
            CaptureFile(f"{CAP}/a/aaa.capture", 100, mtime_ns=2 * 10**18),
        ),
    )
    plan = plan_byte_cap(files, ByteCapRule(cap_bytes=100), in_use=nobody)
    assert paths(plan.victims) == ["a/zzz.capture", "a/2026-01-01T00_00_00.000000Z.capture"]
    assert capture_time_ns(files.files[0]) == 1


# -- name timestamps -------------------------------------------------------------------------


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def utc_ns(iso: str | datetime.datetime) -> int:
    moment = datetime.datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    return (moment - EPOCH) // datetime.timedelta(microseconds=1) * 1000


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2026-06-17T13_04_32.032650-04_00.capture", utc_ns("2026-06-17T17:04:32.032650Z")),
        ("2026-06-17T13:04:32.032650+02:00.prog", utc_ns("2026-06-17T11:04:32.032650Z")),
        ("2026-06-17T13_04_32.032650Z_a1b2c3-0001.capture", utc_ns("2026-06-17T13:04:32.032650Z")),
        ("2026-06-17T13_04_32Z.capture", utc_ns("2026-06-17T13:04:32Z")),
        ("1970-01-01T00_00_00.000000001Z.capture", 1),
    ],
)
def test_rdk_style_names_parse_to_utc_ns(name: str, expected: int) -> None:
    assert name_timestamp_ns(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "data.capture",
        "2026-13-01T00_00_00Z.capture",
        "2026-02-30T00_00_00Z.capture",
        "2026-01-01T25_00_00Z.capture",
        "2026-01-01T00_00_00.capture",  # no zone
        "x2026-01-01T00_00_00Z.capture",
    ],
)
def test_other_names_have_no_timestamp(name: str) -> None:
    assert name_timestamp_ns(name) is None


@given(
    moment=st.datetimes(
        min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2200, 1, 1)
    ),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
)
def test_any_formatted_time_parses_back(moment: datetime.datetime, offset_minutes: int) -> None:
    zone = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    local = moment.replace(tzinfo=zone)
    name = local.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    name = f"{name[:-2]}:{name[-2:]}".replace(":", "_") + ".capture"
    assert name_timestamp_ns(name) == utc_ns(local)


def test_a_scan_of_several_capture_dirs_may_delete_in_each_but_never_in_their_failed() -> None:
    paths = ["/old/failed/x.capture", "/old/a/x.capture", f"{CAP}/a/x.capture", "/etc/x.capture"]
    scan = CaptureDirScan(("/old", CAP), tuple(CaptureFile(p, 1, 0) for p in paths))
    assert [scan.deletable(path) for path in paths] == [False, True, True, False]
