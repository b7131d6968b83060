"""RpcFaultPlan: which call gets which fault, counts and windows, the timeline, JSON form."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim import faults
from dmsim.cloud import RPC_NAMES, RpcFault, RpcFaultPlan
from dmsim.errors import ScenarioError

DCU, FILE, STREAM = RPC_NAMES[:3]


def test_no_fault_passes_and_is_recorded() -> None:
    plan = RpcFaultPlan()
    action = plan.decide(DCU, 1.0, key="k")
    assert (action.kind, action.fault_id, action.call_id) == ("pass", None, 1)
    (entry,) = plan.timeline()
    assert (entry.rpc, entry.key, entry.decision, entry.outcome) == (DCU, "k", "pass", "pending")
    plan.finish(action, "ok", 1.5)
    assert plan.timeline()[0].outcome == "ok"
    assert plan.timeline()[0].finished == 1.5


def test_count_limits_a_fault_to_the_next_n_calls() -> None:
    plan = RpcFaultPlan([RpcFault("f", "reject", code="UNAUTHENTICATED", count=2)])
    kinds = [plan.decide(DCU, 0.0).kind for _ in range(4)]
    assert kinds == ["reject", "reject", "pass", "pass"]
    (status,) = plan.faults()
    assert (status.remaining, status.fired) == (0, 2)
    assert plan.decide(DCU, 0.0).code == ""


def test_window_and_rpc_filter() -> None:
    plan = RpcFaultPlan(
        [RpcFault("slow", "slow_ack", rpcs=frozenset({FILE}), seconds=2.5, start=10, end=20)]
    )
    assert plan.decide(FILE, 9.99).kind == "pass"
    assert plan.decide(DCU, 15).kind == "pass"
    action = plan.decide(FILE, 10)
    assert (action.kind, action.seconds, action.fault_id) == ("slow_ack", 2.5, "slow")
    assert plan.decide(FILE, 20).kind == "pass"


def test_first_added_fault_wins_and_others_keep_their_count() -> None:
    plan = RpcFaultPlan(
        [
            RpcFault("a", "drop_ack", count=1),
            RpcFault("b", "restart", after_bytes=100, commit=True, count=1),
        ]
    )
    first, second, third = (plan.decide(STREAM, 0) for _ in range(3))
    assert (first.kind, second.kind, third.kind) == ("drop_ack", "restart", "pass")
    assert (second.after_bytes, second.commit) == (100, True)
    assert plan.statistics().fired == {"a": 1, "b": 1}


def test_triggered_faults_can_be_removed_and_cleared() -> None:
    plan = RpcFaultPlan()
    plan.add(RpcFault("x", "storage_full"))
    with pytest.raises(ScenarioError, match="already in the plan"):
        plan.add(RpcFault("x", "storage_full"))
    assert plan.decide(DCU, 0).kind == "storage_full"
    assert plan.remove("x")
    assert not plan.remove("x")
    plan.add(RpcFault("y", "stall", after_bytes=10))
    assert plan.clear() == 1
    assert plan.decide(DCU, 0).kind == "pass"


def test_timeline_polling_and_limit() -> None:
    plan = RpcFaultPlan(timeline_limit=3)
    for i in range(5):
        plan.decide(DCU, float(i))
    assert [e.call_id for e in plan.timeline()] == [3, 4, 5]
    assert [e.call_id for e in plan.timeline(after_call=4)] == [5]
    stats = plan.statistics()
    assert (stats.calls, stats.passed) == (5, 5)


@given(
    count=st.integers(1, 5),
    start=st.integers(0, 10),
    length=st.integers(1, 10),
    calls=st.lists(st.tuples(st.sampled_from(RPC_NAMES), st.integers(0, 25)), max_size=30),
)
def test_a_fault_fires_on_exactly_the_first_n_matching_calls(
    count: int, start: int, length: int, calls: list[tuple[str, int]]
) -> None:
    fault = RpcFault(
        "f", "reject", rpcs=frozenset({FILE, STREAM}), start=start, end=start + length, count=count
    )
    plan = RpcFaultPlan([fault])
    fired = [plan.decide(rpc, t).kind == "reject" for rpc, t in calls]
    matching = [rpc in (FILE, STREAM) and start <= t < start + length for rpc, t in calls]
    expected, left = [], count
    for match in matching:
        expected.append(match and left > 0)
        left -= match
    assert fired == expected
    assert [e.decision == "reject" for e in plan.timeline()] == expected


def test_json_round_trip() -> None:
    fault = RpcFault("f1", "stall", rpcs=frozenset({FILE}), after_bytes=4096, seconds=1.5, count=3)
    assert RpcFault.from_json(fault.to_json()) == fault


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"kind": "reject"}, r"fault\.fault_id: required"),
        ({"fault_id": "a", "kind": "explode"}, r"fault\[a\]\.kind: 'explode' is not one of"),
        ({"fault_id": "a", "kind": "reject", "code": "OK"}, r"\.code: 'OK' is not a gRPC error"),
        ({"fault_id": "a", "kind": "reject", "rpcs": ["Upload"]}, "unknown RPC 'Upload'"),
        ({"fault_id": "a", "kind": "stall", "after_bytes": "10"}, r"after_bytes: must be int"),
        ({"fault_id": "a", "kind": "stall", "after_bytes": True}, r"after_bytes: must be int"),
        ({"fault_id": "a", "kind": "stall", "after_bytes": -1}, r"after_bytes: must be ≥ 0"),
        ({"fault_id": "a", "kind": "reject", "count": 0}, r"count: must be ≥ 1"),
        ({"fault_id": "a", "kind": "reject", "start": 5, "end": 5}, r"end: 5 is not after"),
        ({"fault_id": "a", "kind": "reject", "color": "red"}, r"fault\.color: unknown field"),
        ({"fault_id": "a", "kind": "slow_ack", "seconds": math.inf}, r"seconds: must be finite"),
        ({"fault_id": "a", "kind": "stall", "seconds": math.nan}, r"seconds: must be finite"),
        ({"fault_id": "a", "kind": "stall", "seconds": -1}, r"seconds: must be ≥ 0, got -1"),
        ({"fault_id": "a", "kind": "reject", "start": math.nan}, r"start: must be finite"),
        ({"fault_id": "a", "kind": "reject", "end": -math.inf}, r"end: must be finite"),
    ],
)
def test_bad_fault_json_names_the_field(obj: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ScenarioError, match=message):
        RpcFault.from_json(obj)


def test_fault_json_must_be_an_object() -> None:
    with pytest.raises(ScenarioError, match="must be a JSON object"):
        RpcFault.from_json([1, 2])  # type: ignore[arg-type]


def test_scenarios_and_the_cloud_name_the_same_rpcs() -> None:
    assert faults.RPC_NAMES == RPC_NAMES
