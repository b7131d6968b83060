"""The pure link arithmetic: transfer plans, how they settle, and the scheduled timeline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import ConfigError
from dmsim.net import (
    ConnectivityRow,
    DirectionParams,
    DownWindow,
    LinkParams,
    LinkProfile,
    LinkTimeline,
    OutageModel,
    TransferEnd,
    TransferPlan,
    plan_transfer,
    settle,
)

PARAMS = DirectionParams(latency=0.05, jitter=0.01, bandwidth=1000.0, loss=0.1)


def plan(**overrides: object) -> TransferPlan:
    args: dict[str, object] = {
        "now": 10.0,
        "nbytes": 500,
        "params": PARAMS,
        "busy_until": 0.0,
        "sent": 0,
        "jitter_draw": 0.5,
        "loss_draw": 0.5,
    }
    args.update(overrides)
    return plan_transfer(**args)  # type: ignore[arg-type]


def test_plan_is_bandwidth_then_latency() -> None:
    p = plan()
    assert (p.tx_start, p.tx_end, p.arrival) == (10.0, 10.5, pytest.approx(10.55))
    assert not p.lost
    assert p.reset_at is None


def test_plan_queues_behind_the_previous_message() -> None:
    p = plan(busy_until=12.0)
    assert (p.tx_start, p.tx_end) == (12.0, 12.5)


def test_jitter_spans_plus_minus_and_never_negative() -> None:
    assert plan(jitter_draw=0.0).arrival == pytest.approx(10.5 + 0.04)
    assert plan(jitter_draw=1.0).arrival == pytest.approx(10.5 + 0.06)
    wild = DirectionParams(latency=0.01, jitter=1.0)
    assert plan(params=wild, jitter_draw=0.0).arrival == 10.0


def test_loss_is_a_draw_below_the_probability() -> None:
    assert plan(loss_draw=0.099).lost
    assert not plan(loss_draw=0.1).lost
    assert not plan(params=DirectionParams(loss=0.0), loss_draw=0.0).lost


def test_reset_happens_when_the_byte_budget_is_used_up() -> None:
    params = DirectionParams(bandwidth=100.0, reset_after_bytes=1000)
    assert plan(params=params, sent=500, nbytes=500).reset_at is None
    p = plan(params=params, sent=900, nbytes=500)
    assert p.reset_at == pytest.approx(10.0 + 100 / 100.0)
    assert plan(params=params, sent=1000, nbytes=1).reset_at == 10.0


def test_unlimited_bandwidth_takes_no_time() -> None:
    p = plan(params=DirectionParams(latency=0.2))
    assert (p.tx_end, p.arrival) == (10.0, pytest.approx(10.2))


@pytest.mark.parametrize(
    ("deadline", "down", "lost", "expected"),
    [
        (20.0, None, False, (10.55, TransferEnd.DELIVERED)),
        (10.55, None, False, (10.55, TransferEnd.DELIVERED)),  # exactly at the deadline: in time
        (10.3, None, False, (10.3, TransferEnd.DEADLINE)),
        (20.0, None, True, (20.0, TransferEnd.LOST)),
        (20.0, (10.2, "w"), False, (10.2, TransferEnd.DOWN)),
        (20.0, (10.55, "w"), False, (10.55, TransferEnd.DOWN)),  # down at arrival wins
        (9.0, None, False, (10.0, TransferEnd.DEADLINE)),  # deadline already past
    ],
)
def test_settle(
    deadline: float,
    down: tuple[float, str] | None,
    lost: bool,
    expected: tuple[float, TransferEnd],
) -> None:
    p = plan(loss_draw=0.0 if lost else 0.9)
    settled = settle(p, now=10.0, deadline=deadline, down=down)
    assert (settled.at, settled.end) == (pytest.approx(expected[0]), expected[1])
    assert settled.cause == (down[1] if expected[1] is TransferEnd.DOWN and down else "")


def test_settle_reset_beats_everything_else() -> None:
    p = plan(params=DirectionParams(bandwidth=100.0, reset_after_bytes=0))
    assert settle(p, now=10.0, deadline=10.0, down=(10.0, "w")).end is TransferEnd.RESET


UNIT = st.floats(0, 1, exclude_max=True)


@given(
    params=st.builds(
        DirectionParams,
        latency=st.floats(0, 10),
        jitter=st.floats(0, 10),
        bandwidth=st.none() | st.floats(1.0, 1e9),
        reset_after_bytes=st.none() | st.integers(0, 10**6),
    ),
    args=st.fixed_dictionaries(
        {
            "now": st.floats(0, 1e6),
            "busy_until": st.floats(0, 1e6),
            "nbytes": st.integers(0, 10**9),
            "sent": st.integers(0, 10**6),
            "jitter_draw": UNIT,
            "loss_draw": UNIT,
        }
    ),
)
def test_plan_invariants(params: DirectionParams, args: dict[str, Any]) -> None:
    p = plan_transfer(params=params, **args)
    assert max(args["now"], args["busy_until"]) == p.tx_start <= p.tx_end <= p.arrival
    assert p.arrival <= p.tx_end + params.latency + params.jitter + 1e-9
    if p.reset_at is not None:
        assert p.tx_start <= p.reset_at <= p.tx_end
        assert params.reset_after_bytes is not None
        assert args["sent"] + args["nbytes"] > params.reset_after_bytes


def profile_with(**kwargs: object) -> LinkProfile:
    return LinkProfile("test", LinkParams.symmetric(PARAMS), **kwargs)  # type: ignore[arg-type]


def test_down_windows_merge_and_name_the_cause() -> None:
    timeline = LinkTimeline(
        profile_with(),
        down_windows=[DownWindow(5, 10, "a"), DownWindow(8, 12, "b"), DownWindow(20, 21)],
    )
    assert timeline.state_at(4.999).up
    assert timeline.state_at(5).cause == "a"
    assert timeline.state_at(11.9).cause == "a"  # merged with b
    assert timeline.state_at(12).up
    assert timeline.state_at(20.5).cause == "down-window-2"
    assert [timeline.next_change_after(t) for t in (0, 5, 12, 20, 21)] == [5, 12, 20, 21, None]
    assert timeline.first_down_in(0, 4.9) is None
    assert timeline.first_down_in(0, 5) == (5, "a")
    assert timeline.first_down_in(12, 100) == (20, "down-window-2")


def test_connectivity_rows_override_the_profile_until_the_next_row() -> None:
    rows = [
        ConnectivityRow(time=0, up=True, bandwidth_up=50.0, bandwidth_down=500.0, latency=0.2),
        ConnectivityRow(time=10, up=False),
        ConnectivityRow(time=15, up=True, loss=0.5),
    ]
    timeline = LinkTimeline(profile_with(), connectivity=rows)
    first = timeline.state_at(3)
    assert first.params.upstream.bandwidth == 50.0
    assert first.params.downstream.bandwidth == 500.0
    assert first.params.upstream.latency == 0.2
    assert first.params.upstream.jitter == PARAMS.jitter  # not in the row: the profile's
    assert timeline.state_at(10).cause == "connectivity:rows[1]"
    last = timeline.state_at(99)
    assert last.up
    assert last.params.upstream == DirectionParams(
        latency=PARAMS.latency, jitter=PARAMS.jitter, bandwidth=PARAMS.bandwidth, loss=0.5
    )


def test_offline_profile_is_down_from_the_start() -> None:
    timeline = LinkTimeline(profile_with(up=False))
    assert timeline.state_at(0).cause == "profile:test"
    assert timeline.next_change_after(0) is None


def test_random_outages_are_seeded_and_alternate() -> None:
    model = OutageModel(mean_up=10.0, mean_down=2.0)

    def changes(seed: int) -> list[float]:
        timeline = LinkTimeline(profile_with(outages=model), outage_rng=np.random.default_rng(seed))
        out, t = [], 0.0
        for _ in range(20):
            nxt = timeline.next_change_after(t)
            assert nxt is not None
            out.append(nxt)
            t = nxt
        ups = [timeline.state_at(c).up for c in out]
        assert ups == [False, True] * 10
        return out

    assert changes(1) == changes(1)
    assert changes(1) != changes(2)


def test_bad_parameters_are_rejected_with_their_field() -> None:
    with pytest.raises(ConfigError, match="latency"):
        DirectionParams(latency=-1)
    with pytest.raises(ConfigError, match="bandwidth"):
        DirectionParams(bandwidth=0)
    with pytest.raises(ConfigError, match="loss"):
        DirectionParams(loss=1.5)
    with pytest.raises(ConfigError, match="reset_after_bytes"):
        DirectionParams(reset_after_bytes=-3)
    with pytest.raises(ConfigError, match="end"):
        DownWindow(5, 5)
    with pytest.raises(ConfigError, match="mean_up"):
        OutageModel(mean_up=0, mean_down=1)


@given(
    windows=st.lists(st.tuples(st.floats(0, 100), st.floats(0.001, 20)), max_size=8).map(
        lambda ws: [DownWindow(s, s + d, f"w{i}") for i, (s, d) in enumerate(ws)]
    ),
    rows=st.lists(st.tuples(st.floats(0, 100), st.booleans()), max_size=8, unique_by=lambda r: r[0])
    .map(sorted)
    .map(lambda rs: [ConnectivityRow(t, up) for t, up in rs]),
    probes=st.lists(st.floats(0, 150), min_size=1, max_size=10),
)
def test_state_only_changes_at_reported_change_points(
    windows: list[DownWindow], rows: list[ConnectivityRow], probes: list[float]
) -> None:
    timeline = LinkTimeline(profile_with(), down_windows=windows, connectivity=rows)
    points = [0.0]
    while (nxt := timeline.next_change_after(points[-1])) is not None:
        assert nxt > points[-1]
        points.append(nxt)
    for t in probes:
        start = max(p for p in points if p <= t)
        assert timeline.state_at(t).up == timeline.state_at(start).up
        in_window = any(w.start <= t < w.end for w in windows)
        if in_window:
            assert not timeline.state_at(t).up
        found = timeline.first_down_in(t, t + 10)
        if found is not None:
            assert t < found[0] <= t + 10
            assert not timeline.state_at(found[0]).up
