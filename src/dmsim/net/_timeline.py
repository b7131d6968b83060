"""The link's known future, and the arithmetic of one transfer: pure, no runtime.

A :class:`LinkTimeline` merges everything about a link that is fixed in advance: the base
profile, scheduled down windows, a recorded connectivity trace, scheduled impairments and
seeded random outages. It answers "what is the link like at time t" and "when does that next
change", which is all the simulated link needs to decide, at the start of a transfer, how the
transfer ends.

At any instant, each direction's parameters are the base (the profile, overridden by the
trace's current row) composed with every :class:`Impairment` active then in that direction,
whatever their order or overlap:

- latency and jitter: the base's plus each impairment's (every fault adds its own delay, so
  the delay stays within the summed latency ± the summed spread);
- loss: independent stages, ``1 - (1 - p1)(1 - p2)…``, the base's loss included (each lossy
  fault is one more element a message must survive; the result does not depend on which
  fault started first, and a weaker fault never lowers the loss of a stronger one);
- bandwidth and reset-after-bytes: the smallest (the tightest cap governs);
- up or down: impairments never change it; down windows, a trace's down row, an offline
  profile and random outages do.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

import numpy as np

from ._conntrace import ConnectivityRow
from ._params import Direction, DirectionParams, DownWindow, Impairment, LinkParams
from ._profiles import LinkProfile

__all__ = [
    "LinkState",
    "LinkTimeline",
    "Settled",
    "TransferEnd",
    "TransferPlan",
    "plan_transfer",
    "settle",
]

_Limit = TypeVar("_Limit", int, float)


@dataclass(frozen=True, slots=True)
class LinkState:
    """The link at one instant; ``cause`` names why it is down (empty when up)."""

    up: bool
    params: LinkParams
    cause: str = ""


class LinkTimeline:
    """Everything scheduled about one link, queried by time."""

    def __init__(
        self,
        base: LinkProfile,
        *,
        down_windows: Sequence[DownWindow] = (),
        connectivity: Sequence[ConnectivityRow] = (),
        impairments: Sequence[Impairment] = (),
        outage_rng: np.random.Generator | None = None,
    ) -> None:
        self._base = base
        self._rows = list(connectivity)
        self._row_times = [row.time for row in self._rows]
        if self._row_times != sorted(set(self._row_times)):
            raise ValueError("connectivity rows must have strictly increasing times")
        self._windows = _merge(
            [(w.start, w.end, w.fault_id or f"down-window-{i}") for i, w in enumerate(down_windows)]
        )
        self._window_bounds = [t for start, end, _ in self._windows for t in (start, end)]
        self._impairment_bounds = sorted({t for i in impairments for t in (i.start, i.end)})
        # what is active from each bound until the next, in schedule order
        self._impaired_from = [
            tuple(i for i in impairments if i.start <= t < i.end) for t in self._impairment_bounds
        ]
        self._outage_rng = outage_rng if base.outages is not None else None
        self._outages: list[tuple[float, float, str]] = []
        self._outage_bounds: list[float] = []
        self._outage_clock = 0.0  # where the outage process has been generated up to

    def state_at(self, t: float) -> LinkState:
        params = self._base.params
        up, cause = self._base.up, "" if self._base.up else f"profile:{self._base.name}"
        i = bisect.bisect_right(self._row_times, t) - 1
        if i >= 0:
            row = self._rows[i]
            params = _apply_row(params, row)
            up, cause = row.up, "" if row.up else f"connectivity:rows[{i}]"
        j = bisect.bisect_right(self._impairment_bounds, t) - 1
        if j >= 0 and self._impaired_from[j]:
            params = _impair(params, self._impaired_from[j])
        window = _covering(self._windows, self._window_bounds, t)
        if window is not None:
            up, cause = False, window
        self._extend_outages(t)
        outage = _covering(self._outages, self._outage_bounds, t)
        if outage is not None and up:
            up, cause = False, outage
        return LinkState(up=up, params=params, cause=cause)

    def next_change_after(self, t: float) -> float | None:
        """The first time after ``t`` at which some scheduled source changes (or ``None``)."""
        candidates = [
            _next_after(self._row_times, t),
            _next_after(self._window_bounds, t),
            _next_after(self._impairment_bounds, t),
        ]
        if self._outage_rng is not None:
            while not self._outage_bounds or self._outage_bounds[-1] <= t:
                self._generate_outage()
            candidates.append(_next_after(self._outage_bounds, t))
        found = [c for c in candidates if c is not None]
        return min(found) if found else None

    def transmit_end(self, way: Direction, start: float, nbytes: int) -> float:
        """When ``nbytes`` sent from ``start`` have all left in direction ``way``: each byte
        goes at the bandwidth in force when it leaves (a throttle that ends, or starts,
        mid-message changes the rest of it)."""
        t, remaining = start, float(nbytes)
        while True:
            bandwidth = self.state_at(t).params.of(way).bandwidth
            if bandwidth is None:
                return t
            end = t + remaining / bandwidth
            nxt = self.next_change_after(t)
            if nxt is None or end <= nxt:
                return end
            remaining -= bandwidth * (nxt - t)
            t = nxt

    def first_down_in(self, start: float, end: float) -> tuple[float, str] | None:
        """The first time in ``(start, end]`` at which the link is down, with its cause."""
        t = start
        while True:
            nxt = self.next_change_after(t)
            if nxt is None or nxt > end:
                return None
            state = self.state_at(nxt)
            if not state.up:
                return nxt, state.cause
            t = nxt

    def _extend_outages(self, t: float) -> None:
        if self._outage_rng is None:
            return
        while self._outage_clock <= t:
            self._generate_outage()

    def _generate_outage(self) -> None:
        assert self._outage_rng is not None
        assert self._base.outages is not None
        model = self._base.outages
        start = self._outage_clock + float(self._outage_rng.exponential(model.mean_up))
        end = start + float(self._outage_rng.exponential(model.mean_down))
        if end > start:  # a zero-length draw is no outage at all
            self._outages.append((start, end, f"outage-{len(self._outages)}"))
            self._outage_bounds.extend((start, end))
        self._outage_clock = end


class TransferEnd(StrEnum):
    DELIVERED = "delivered"
    LOST = "lost"  # the message vanished; the sender learns at its deadline
    DEADLINE = "deadline"  # still in flight when the sender's deadline passed
    RESET = "reset"  # connection reset after its byte budget
    DOWN = "down"  # the link went down mid-transfer


@dataclass(frozen=True, slots=True)
class TransferPlan:
    """When one message would leave, finish leaving and arrive, if nothing else happened."""

    tx_start: float
    tx_end: float
    arrival: float
    lost: bool
    reset_at: float | None


def plan_transfer(
    *,
    now: float,
    nbytes: int,
    params: DirectionParams,
    transmit_end: Callable[[float, int], float],
    busy_until: float,
    sent: int,
    jitter_draw: float,
    loss_draw: float,
) -> TransferPlan:
    """The transfer's timing. Messages queue behind each other on the direction's bandwidth
    (FIFO from ``busy_until``); ``transmit_end(start, n)`` says when ``n`` bytes sent from
    ``start`` have left (:meth:`LinkTimeline.transmit_end`). Latency, jitter, loss and the
    reset budget are ``params``, those in force when the message is handed to the link;
    latency and jitter are added after the last byte leaves. ``sent`` is how many bytes the
    current connection has carried. ``jitter_draw`` and ``loss_draw`` are uniform draws in
    [0, 1)."""
    tx_start = max(now, busy_until)
    tx_end = transmit_end(tx_start, nbytes)
    reset_at: float | None = None
    budget = params.reset_after_bytes
    if budget is not None and sent + nbytes > budget:
        reset_at = transmit_end(tx_start, max(0, budget - sent))
    delay = max(0.0, params.latency + params.jitter * (2.0 * jitter_draw - 1.0))
    return TransferPlan(
        tx_start=tx_start,
        tx_end=tx_end,
        arrival=tx_end + delay,
        lost=loss_draw < params.loss,
        reset_at=reset_at,
    )


@dataclass(frozen=True, slots=True)
class Settled:
    at: float
    end: TransferEnd
    cause: str = ""


def settle(
    plan: TransferPlan, *, now: float, deadline: float, down: tuple[float, str] | None
) -> Settled:
    """How and when a planned transfer ends. On a tie, a reset or the link dropping wins over
    delivery, and delivery exactly at the deadline is in time."""
    options: list[tuple[float, int, TransferEnd, str]] = []
    if plan.reset_at is not None:
        options.append((plan.reset_at, 0, TransferEnd.RESET, ""))
    if down is not None:
        options.append((down[0], 1, TransferEnd.DOWN, down[1]))
    if not plan.lost:
        options.append((plan.arrival, 2, TransferEnd.DELIVERED, ""))
    timeout = TransferEnd.LOST if plan.lost else TransferEnd.DEADLINE
    options.append((max(now, deadline), 3, timeout, ""))
    at, _, end, cause = min(options, key=lambda o: (o[0], o[1]))
    return Settled(at=at, end=end, cause=cause)


def _apply_row(params: LinkParams, row: ConnectivityRow) -> LinkParams:
    def one(p: DirectionParams, bandwidth: float | None) -> DirectionParams:
        return replace(
            p,
            bandwidth=p.bandwidth if bandwidth is None else bandwidth,
            latency=p.latency if row.latency is None else row.latency,
            loss=p.loss if row.loss is None else row.loss,
        )

    return LinkParams(
        upstream=one(params.upstream, row.bandwidth_up),
        downstream=one(params.downstream, row.bandwidth_down),
    )


def _impair(params: LinkParams, active: Sequence[Impairment]) -> LinkParams:
    """``params`` with the ``active`` impairments composed on top (see the module docstring)."""

    def one(way: Direction) -> DirectionParams:
        p = params.of(way)
        mine = [i for i in active if way in i.directions]
        if not mine:
            return p
        latency, jitter, loss = p.latency, p.jitter, p.loss
        bandwidth, budget = p.bandwidth, p.reset_after_bytes
        for impairment in mine:
            latency += impairment.latency
            jitter += impairment.jitter
            # 1 - (1 - loss)(1 - p) in a form that is exact when either side is 0 or 1
            loss += impairment.loss * (1.0 - loss)
            bandwidth = _tightest(bandwidth, impairment.bandwidth)
            budget = _tightest(budget, impairment.reset_after_bytes)
        return DirectionParams(
            latency=latency, jitter=jitter, bandwidth=bandwidth, loss=loss, reset_after_bytes=budget
        )

    return LinkParams(upstream=one(Direction.UPSTREAM), downstream=one(Direction.DOWNSTREAM))


def _tightest(limit: _Limit | None, other: _Limit | None) -> _Limit | None:
    """The smaller of two optional limits (``None`` is no limit)."""
    if limit is None:
        return other
    return limit if other is None else min(limit, other)


def _merge(windows: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Disjoint intervals; overlapping windows merge and keep the earliest window's id."""
    merged: list[tuple[float, float, str]] = []
    for start, end, fault_id in sorted(windows):
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, fault_id))
    return merged


def _covering(
    intervals: list[tuple[float, float, str]], bounds: list[float], t: float
) -> str | None:
    """The id of the interval with ``start <= t < end``, if any (``bounds`` = flattened)."""
    i = bisect.bisect_right(bounds, t)
    if i % 2 == 1:  # inside [start, end)
        return intervals[i // 2][2]
    return None


def _next_after(values: list[float], t: float) -> float | None:
    i = bisect.bisect_right(values, t)
    return values[i] if i < len(values) else None
