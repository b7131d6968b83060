"""Retention by UTC day and by size, part deletion, and keys remembered after deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.unit.cloud.cloud_kit import Clock

from dmsim.cloud import CaptureFilter, CloudCore, RetentionPolicy
from dmsim.cloud._retention import GIGABYTE, plan_retention, stored_day_expired
from dmsim.cloud.samples import binary_request, tabular_request
from dmsim.errors import ConfigError


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _ns(text: str) -> int:
    return round(_at(text) * 1e9)


@pytest.mark.parametrize(
    ("stored", "now", "days", "expired"),
    [
        ("2024-03-01T23:59:59", "2024-03-01T23:59:59.9", 1, False),
        ("2024-03-01T23:59:59", "2024-03-02T00:00:00", 1, True),  # the following UTC day
        ("2024-03-01T00:00:00", "2024-03-01T23:59:59", 1, False),  # 24 h minus 1 s: same day
        ("2024-03-01T12:00:00", "2024-03-05T23:00:00", 5, False),
        ("2024-03-01T12:00:00", "2024-03-06T00:00:00", 5, True),
        ("2024-02-28T12:00:00", "2024-03-01T00:00:00", 2, True),  # leap year: 29th in between
    ],
)
def test_days_count_utc_dates(stored: str, now: str, days: int, expired: bool) -> None:
    assert stored_day_expired(_ns(stored), _ns(now), days) is expired


def test_retention_by_days_deletes_only_the_policys_method(core: CloudCore, clock: Clock) -> None:
    clock.now = _at("2024-03-01T22:00:00")
    core.ingest_data_capture(tabular_request([{"a": 1}], component_name="s1"), key="old")
    core.ingest_data_capture(binary_request([b"i"], component_name="cam"), key="old-cam")
    clock.now = _at("2024-03-02T01:00:00")
    core.ingest_data_capture(tabular_request([{"a": 2}], component_name="s1"), key="new")
    policy = RetentionPolicy(component_name="s1", method_name="Readings", days=1)

    assert core.apply_retention([policy], _at("2024-03-01T23:59:00")) == []
    deleted = core.apply_retention([policy], _at("2024-03-02T02:00:00"))
    assert [(d.item.data(), d.rule) for d in deleted] == [({"a": 1.0}, "days")]
    assert core.count(CaptureFilter(component_name="s1")) == 1
    assert core.count(CaptureFilter(component_name="cam")) == 1
    assert core.statistics().retention_deleted == 1


def test_size_limit_deletes_oldest_first(core: CloudCore, clock: Clock) -> None:
    for i in range(5):
        clock.now += 60
        core.ingest_data_capture(binary_request([bytes([i]) * 1000]), key=f"img{i}")
    policy = RetentionPolicy(
        component_name="camera-1", method_name="ReadImage", binary_limit_gb=2500 / GIGABYTE
    )
    deleted = core.apply_retention([policy], clock.now)
    assert [d.rule for d in deleted] == ["binary_limit_gb"] * 3
    left = core.query()
    assert [core.read_blob(i.item_id)[0] for i in left] == [3, 4]
    assert core.statistics().stored_bytes == 2000


def test_tabular_limit_counts_only_tabular(clock: Clock) -> None:
    items = []
    cloud = CloudCore(clock=clock)
    try:
        for i in range(3):
            clock.now += 1
            cloud.ingest_data_capture(tabular_request([{"i": i}]), key=f"t{i}")
        items = cloud.query()
    finally:
        cloud.close()
    size = items[0].size
    policy = RetentionPolicy(
        component_name="sensor-1", method_name="Readings", tabular_limit_gb=size * 2 / GIGABYTE
    )
    plan = plan_retention(items, [policy], now_ns=items[-1].received_ns)
    assert [(d.item.item_id, d.rule) for d in plan] == [(items[0].item_id, "tabular_limit_gb")]


def test_first_matching_policy_wins_and_parts_have_their_own_budget(clock: Clock) -> None:
    cloud = CloudCore(clock=clock)
    try:
        for part in ("p1", "p2"):
            for i in range(2):
                clock.now += 1
                cloud.ingest_data_capture(
                    binary_request([b"x" * 100], part_id=part), key=f"{part}{i}"
                )
        items = cloud.query()
    finally:
        cloud.close()
    tight = RetentionPolicy(
        component_name="camera-1", method_name="ReadImage", binary_limit_gb=100 / GIGABYTE
    )
    loose = RetentionPolicy(component_name="camera-1", method_name="ReadImage", days=1000)
    deleted = plan_retention(items, [tight, loose], now_ns=items[-1].received_ns)
    assert sorted(d.item.part_id for d in deleted) == ["p1", "p2"]
    assert plan_retention(items, [loose, tight], now_ns=items[-1].received_ns) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs at least one of"),
        ({"days": 0}, r"\.days: must be a whole number ≥ 1"),
        ({"binary_limit_gb": -1}, r"\.binary_limit_gb: must be > 0"),
    ],
)
def test_bad_policies_are_rejected(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message):
        RetentionPolicy(component_name="c", method_name="m", **kwargs)


def test_delete_part_removes_its_data_and_blobs(tmp_path: Path, clock: Clock) -> None:
    cloud = CloudCore(clock=clock, data_dir=str(tmp_path))
    try:
        cloud.ingest_data_capture(binary_request([b"p1-image"], part_id="p1"), key="a")
        cloud.ingest_data_capture(tabular_request([{"x": 1}], part_id="p1"), key="b")
        cloud.ingest_data_capture(binary_request([b"p2-image"], part_id="p2"), key="c")
        assert cloud.delete_part("p1") == 2
        assert [i.part_id for i in cloud.query()] == ["p2"]
        blobs = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
        assert len(blobs) == 1
        # A late resend of deleted data is acknowledged, not stored again.
        assert cloud.ingest_data_capture(
            binary_request([b"p1-image"], part_id="p1"), key="a"
        ).duplicate
        assert cloud.count(CaptureFilter(part_id="p1")) == 0
        assert cloud.statistics().part_deleted == 2
    finally:
        cloud.close()


def test_shared_blob_survives_until_its_last_item_goes(core: CloudCore) -> None:
    core.ingest_data_capture(binary_request([b"same"], part_id="p1"), key="a")
    core.ingest_data_capture(binary_request([b"same"], part_id="p2"), key="b")
    core.delete_part("p1")
    (item,) = core.query()
    assert core.read_blob(item.item_id) == b"same"
