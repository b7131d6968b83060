"""Retention policies per capture method, as Viam documents them, and the pure planner that
decides what to delete.

A capture method's ``retention_policy`` has ``days``, ``binary_limit_gb`` and
``tabular_limit_gb`` (any of them). The documents say: "Days are in UTC time. Setting a
retention policy of 1 day means that data stored now will be deleted the following day in UTC
time." So an item *stored* (received by the cloud) on UTC date D is deleted once the UTC date
is D + ``days`` or later — whatever the hour it was stored at. Size limits are in gigabytes
(10⁹ bytes, decimal as written); when the data of one (part, component, method) exceeds a
limit, its oldest items are deleted first until it fits. Binary captures and files count
towards ``binary_limit_gb``, tabular readings towards ``tabular_limit_gb`` (each reading's
size is its serialized ``SensorData``).

A policy applies to the items of its component name and method (and, if given, component
type and part); the first matching policy in the list wins. Each (part, component, method)
is its own budget, since a policy belongs to one machine part's capture method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from dmsim.errors import ConfigError, Problem

from ._records import StoredItem

__all__ = [
    "GIGABYTE",
    "RetentionDeletion",
    "RetentionPolicy",
    "plan_retention",
    "stored_day_expired",
    "utc_day",
]

GIGABYTE = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    component_name: str
    method_name: str
    component_type: str | None = None
    part_id: str | None = None
    days: int | None = None
    binary_limit_gb: float | None = None
    tabular_limit_gb: float | None = None

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        where = f"retention_policy[{self.component_name}/{self.method_name}]"
        if self.days is None and self.binary_limit_gb is None and self.tabular_limit_gb is None:
            problems.append(
                Problem(where, "needs at least one of days, binary_limit_gb, tabular_limit_gb")
            )
        if self.days is not None and (isinstance(self.days, bool) or self.days < 1):
            problems.append(
                Problem(f"{where}.days", f"must be a whole number ≥ 1, got {self.days}")
            )
        for name in ("binary_limit_gb", "tabular_limit_gb"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                problems.append(Problem(f"{where}.{name}", f"must be > 0, got {value}"))
        if problems:
            raise ConfigError(problems, source="retention policy")

    def matches(self, item: StoredItem) -> bool:
        return (
            item.component_name == self.component_name
            and item.method_name == self.method_name
            and self.component_type in (None, item.component_type)
            and self.part_id in (None, item.part_id)
        )


@dataclass(frozen=True, slots=True)
class RetentionDeletion:
    """One item deleted by a named rule (``days``, ``binary_limit_gb``, ``tabular_limit_gb``)."""

    item: StoredItem
    rule: str
    policy: RetentionPolicy


def utc_day(ns: int) -> date:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).date()


def stored_day_expired(stored_ns: int, now_ns: int, days: int) -> bool:
    """True once the UTC date of ``now_ns`` is at least ``days`` after the storing date."""
    return (utc_day(now_ns) - utc_day(stored_ns)).days >= days


def plan_retention(
    items: Sequence[StoredItem], policies: Sequence[RetentionPolicy], now_ns: int
) -> list[RetentionDeletion]:
    """What to delete now. ``items`` must be ordered oldest stored first."""
    groups: dict[tuple[int, str, str, str, str], list[StoredItem]] = {}
    for item in items:
        for index, policy in enumerate(policies):
            if policy.matches(item):
                group = (
                    index,
                    item.part_id,
                    item.component_type,
                    item.component_name,
                    item.method_name,
                )
                groups.setdefault(group, []).append(item)
                break
    deletions: list[RetentionDeletion] = []
    for (index, *_), members in groups.items():
        deletions.extend(_plan_group(members, policies[index], now_ns))
    return deletions


def _plan_group(
    members: list[StoredItem], policy: RetentionPolicy, now_ns: int
) -> list[RetentionDeletion]:
    deletions: list[RetentionDeletion] = []
    kept: list[StoredItem] = []
    for item in members:
        if policy.days is not None and stored_day_expired(item.received_ns, now_ns, policy.days):
            deletions.append(RetentionDeletion(item, "days", policy))
        else:
            kept.append(item)
    for rule, limit_gb, kinds in (
        ("binary_limit_gb", policy.binary_limit_gb, ("binary", "file")),
        ("tabular_limit_gb", policy.tabular_limit_gb, ("tabular",)),
    ):
        if limit_gb is None:
            continue
        sized = [item for item in kept if item.kind in kinds]
        excess = sum(item.size for item in sized) - limit_gb * GIGABYTE
        for item in sized:  # oldest first
            if excess <= 0:
                break
            deletions.append(RetentionDeletion(item, rule, policy))
            excess -= item.size
    return deletions
