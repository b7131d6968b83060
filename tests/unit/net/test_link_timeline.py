"""The pure link arithmetic: transfer plans, how they settle, and the scheduled timeline."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import ConfigError
from dmsim.net import (
    ConnectivityRow,
    Direction,
    DirectionParams,
    DownWindow,
    Impairment,
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


def steady(params: DirectionParams) -> Callable[[float, int], float]:
    """``transmit_end`` of a link whose bandwidth never changes."""
    timeline = LinkTimeline(LinkProfile("steady", LinkParams.symmetric(params)))
    return functools.partial(timeline.transmit_end, Direction.UPSTREAM)


def plan(**overrides: object) -> TransferPlan:
    params = overrides.get("params", PARAMS)
    assert isinstance(params, DirectionParams)
    args: dict[str, object] = {
        "now": 10.0,
        "nbytes": 500,
        "params": params,
        "transmit_end": steady(params),
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
    p = plan_transfer(params=params, transmit_end=steady(params), **args)
    assert max(args["now"], args["busy_until"]) == p.tx_start <= p.tx_end <= p.arrival
    assert p.arrival <= p.tx_end + params.latency + params.jitter + 1e-9
    if p.reset_at is not None:
        assert p.tx_start <= p.reset_at <= p.tx_end
        assert params.reset_after_bytes is not None
        assert args["sent"] + args["nbytes"] > params.reset_after_bytes


THROTTLES = st.lists(
    st.builds(
        lambda start, length, bandwidth: Impairment(start, start + length, bandwidth=bandwidth),
        start=st.floats(0, 100),
        length=st.floats(0.01, 50),
        bandwidth=st.floats(1.0, 1e4),
    ),
    max_size=4,
)


def test_transmit_end_follows_the_bandwidth_in_force_byte_by_byte() -> None:
    timeline = LinkTimeline(
        LinkProfile("slow", LinkParams.symmetric(DirectionParams(bandwidth=1000.0))),
        impairments=[
            Impairment(2.0, 3.0, bandwidth=100.0),
            Impairment(2.5, 4.0, bandwidth=10.0, directions=frozenset({Direction.DOWNSTREAM})),
        ],
    )
    up = functools.partial(timeline.transmit_end, Direction.UPSTREAM)
    assert up(0.0, 1500) == pytest.approx(1.5)  # all before the throttle
    assert up(1.5, 600) == pytest.approx(3.0)  # 500 B by 2 s, then 100 B at 100 B/s
    assert up(1.5, 700) == pytest.approx(3.1)  # ... and the last 100 B at full speed
    assert up(2.5, 0) == 2.5
    down = functools.partial(timeline.transmit_end, Direction.DOWNSTREAM)
    assert down(2.0, 60) == pytest.approx(2.5 + 10 / 10.0)  # 50 B, then the tighter cap
    unlimited = LinkTimeline(LinkProfile("lan", LinkParams()))
    assert unlimited.transmit_end(Direction.UPSTREAM, 7.0, 10**9) == 7.0


@given(
    throttles=THROTTLES,
    start=st.floats(0, 150),
    first=st.integers(0, 10**5),
    second=st.integers(0, 10**5),
)
def test_transmit_end_of_a_message_is_that_of_its_two_halves(
    throttles: list[Impairment], start: float, first: int, second: int
) -> None:
    """Sending a message in two parts back to back ends when sending it whole does; more
    bytes never end sooner; the time taken lies between the slowest and fastest rates."""
    base = DirectionParams(bandwidth=1e4)
    timeline = LinkTimeline(LinkProfile("t", LinkParams.symmetric(base)), impairments=throttles)
    end = functools.partial(timeline.transmit_end, Direction.UPSTREAM)
    whole = end(start, first + second)
    assert end(end(start, first), second) == pytest.approx(whole, rel=1e-9, abs=1e-9)
    assert end(start, first) <= whole + 1e-9
    slowest = min([1e4, *(t.bandwidth or 1e4 for t in throttles)])
    assert (first + second) / 1e4 - 1e-9 <= whole - start <= (first + second) / slowest + 1e-9


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
    with pytest.raises(ConfigError, match="end"):
        Impairment(5, 5)
    with pytest.raises(ConfigError, match="loss"):
        Impairment(0, 1, loss=2.0)
    with pytest.raises(ConfigError, match="directions"):
        Impairment(0, 1, directions=frozenset())


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


UP = frozenset({Direction.UPSTREAM})
DOWN = frozenset({Direction.DOWNSTREAM})


def fields(p: DirectionParams) -> tuple[float, float, float | None, float, int | None]:
    return (p.latency, p.jitter, p.bandwidth, p.loss, p.reset_after_bytes)


def test_impairments_compose_on_the_base_and_each_ends_on_its_own() -> None:
    """Regression: a fault's end restored the base profile while others were still active."""
    timeline = LinkTimeline(
        profile_with(),
        impairments=[
            Impairment(60, 420, "slow", latency=5.0),
            Impairment(120, 180, "slower", latency=1.0, jitter=0.5, directions=UP),
            Impairment(60, 180, "lossy", loss=0.5, directions=DOWN),
            Impairment(60, 120, "capped", bandwidth=100.0),
            Impairment(60, 120, "budget", reset_after_bytes=64, directions=UP),
        ],
    )
    assert timeline.state_at(59.9).params == LinkParams.symmetric(PARAMS)
    at_60 = timeline.state_at(60).params
    assert fields(at_60.upstream) == pytest.approx((5.05, 0.01, 100.0, 0.1, 64))
    assert fields(at_60.downstream) == pytest.approx((5.05, 0.01, 100.0, 0.55, None))
    at_150 = timeline.state_at(150).params
    assert fields(at_150.upstream) == pytest.approx((6.05, 0.51, 1000.0, 0.1, None))
    assert fields(at_150.downstream) == pytest.approx((5.05, 0.01, 1000.0, 0.55, None))
    at_200 = timeline.state_at(200).params  # the inner faults ended, the outer one holds
    for way in Direction:
        assert fields(at_200.of(way)) == pytest.approx((5.05, 0.01, 1000.0, 0.1, None))
    assert timeline.state_at(420).params == LinkParams.symmetric(PARAMS)
    changes = [0.0]
    while (nxt := timeline.next_change_after(changes[-1])) is not None:
        changes.append(nxt)
    assert changes == [0.0, 60, 120, 180, 420]


def test_impairments_never_raise_a_link_the_trace_or_a_window_holds_down() -> None:
    timeline = LinkTimeline(
        profile_with(),
        down_windows=[DownWindow(30, 40, "cut")],
        connectivity=[
            ConnectivityRow(0, True),
            ConnectivityRow(10, False),
            ConnectivityRow(20, True),
        ],
        impairments=[Impairment(5, 50, "slow", latency=1.0)],
    )
    assert [timeline.state_at(t).up for t in (5, 10, 20, 30, 40)] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert timeline.state_at(10).params.upstream.latency == pytest.approx(1.05)


def test_impairments_starting_together_or_back_to_back_are_fine() -> None:
    """Regression: faults starting at one instant, or one starting as another ended, made
    connectivity rows with equal times, which the timeline refused."""
    timeline = LinkTimeline(
        profile_with(),
        impairments=[
            Impairment(60, 180, "a", latency=2.0),
            Impairment(60, 120, "b", bandwidth=10.0),
            Impairment(180, 240, "c", loss=0.5),
        ],
    )
    assert timeline.state_at(60).params.upstream.bandwidth == 10.0
    assert fields(timeline.state_at(180).params.upstream) == pytest.approx(
        (0.05, 0.01, 1000.0, 0.55, None)
    )


BASES = st.builds(
    DirectionParams,
    latency=st.sampled_from([0.0, 0.05, 0.3]),
    jitter=st.sampled_from([0.0, 0.01]),
    bandwidth=st.none() | st.sampled_from([1000.0, 1e6]),
    loss=st.sampled_from([0.0, 0.01, 1.0]),
    reset_after_bytes=st.none() | st.just(4096),
)
DIRECTIONS = st.sampled_from([frozenset(Direction), UP, DOWN])
IMPAIRMENTS = st.lists(
    st.tuples(
        st.integers(0, 20),
        st.integers(1, 10),
        DIRECTIONS,
        st.one_of(
            st.builds(
                dict, latency=st.sampled_from([0.01, 1.0, 2.5]), jitter=st.sampled_from([0.0, 0.5])
            ),
            st.builds(dict, loss=st.sampled_from([0.01, 0.5, 1.0])),
            st.builds(dict, bandwidth=st.sampled_from([10.0, 500.0, 1e7])),
            st.builds(dict, reset_after_bytes=st.sampled_from([0, 10, 10_000])),
        ),
    ),
    max_size=6,
).map(
    lambda specs: [
        Impairment(float(at), float(at + length), f"f{i}", directions=ways, **effect)
        for i, (at, length, ways, effect) in enumerate(specs)
    ]
)


def expected_params(
    base: DirectionParams, active: list[Impairment], way: Direction
) -> dict[str, object]:
    """The documented composition, computed the long way round."""
    mine = [i for i in active if way in i.directions]
    survive = 1 - base.loss
    for impairment in mine:
        survive *= 1 - impairment.loss
    caps = [c for c in (base.bandwidth, *(i.bandwidth for i in mine)) if c is not None]
    budgets = [
        b for b in (base.reset_after_bytes, *(i.reset_after_bytes for i in mine)) if b is not None
    ]
    return {
        "latency": pytest.approx(base.latency + sum(i.latency for i in mine)),
        "jitter": pytest.approx(base.jitter + sum(i.jitter for i in mine)),
        "loss": 1.0 if survive == 0 else pytest.approx(1 - survive),  # a stage of 1 loses all
        "bandwidth": min(caps) if caps else None,
        "reset_after_bytes": min(budgets) if budgets else None,
    }


@given(
    base_params=st.builds(LinkParams, upstream=BASES, downstream=BASES),
    impairments=IMPAIRMENTS,
    rows=st.lists(
        st.tuples(st.integers(0, 30), st.booleans()), max_size=4, unique_by=lambda r: r[0]
    )
    .map(sorted)
    .map(lambda rs: [ConnectivityRow(float(t), up, latency=0.2 if up else None) for t, up in rs]),
    windows=st.lists(st.tuples(st.integers(0, 30), st.integers(1, 5)), max_size=2).map(
        lambda ws: [DownWindow(float(s), float(s + d), f"w{i}") for i, (s, d) in enumerate(ws)]
    ),
    offsets=st.lists(st.sampled_from([0.0, 0.5, -1e-9]), min_size=1, max_size=3),
)
def test_any_overlap_of_impairments_is_the_documented_composition(
    base_params: LinkParams,
    impairments: list[Impairment],
    rows: list[ConnectivityRow],
    windows: list[DownWindow],
    offsets: list[float],
) -> None:
    base = LinkProfile("base", base_params)
    timeline = LinkTimeline(base, down_windows=windows, connectivity=rows, impairments=impairments)
    bare = LinkTimeline(base, down_windows=windows, connectivity=rows)
    changes = [0.0]
    while (nxt := timeline.next_change_after(changes[-1])) is not None:
        assert nxt > changes[-1]
        changes.append(nxt)
    bounds = {i.start for i in impairments} | {i.end for i in impairments}
    assert bounds <= set(changes)
    probes = sorted({max(0.0, t + d) for t in changes for d in offsets})
    for t in probes:
        state = timeline.state_at(t)
        since = max(c for c in changes if c <= t)
        assert state == timeline.state_at(since)  # nothing changes between change points
        unimpaired = bare.state_at(t)
        assert (state.up, state.cause) == (unimpaired.up, unimpaired.cause)
        active = [i for i in impairments if i.start <= t < i.end]
        for way in Direction:
            got = state.params.of(way)
            want = expected_params(unimpaired.params.of(way), active, way)
            assert {name: getattr(got, name) for name in want} == want
