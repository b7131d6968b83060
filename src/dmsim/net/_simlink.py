"""SimLink: a device↔cloud network link on the runtime port.

The link decides, when a transfer starts, how it will end (:func:`plan_transfer` and
:func:`settle` on the :class:`LinkTimeline`), then waits on the runtime until then. Only a
manual :meth:`SimLink.set_up` can cut a transfer short beyond that plan. Every transfer draws
exactly two numbers from its direction's RNG stream, whatever the parameters, so changing a
profile does not shift the random stream of later transfers.

A message's bytes leave at the bandwidth in force as each leaves; its latency, jitter, loss and
reset budget are those in force when it is handed to the link (a delay or loss that starts later
applies to later messages). A link going down aborts the transfers in flight.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from dmsim.errors import InternalError
from dmsim.runtime import RngTree, Runtime, Task, Trace

from ._conntrace import ConnectivityRow
from ._params import Direction, DownWindow, Impairment, LinkParams
from ._profiles import LinkProfile, profile
from ._timeline import LinkState, LinkTimeline, TransferEnd, plan_transfer, settle

__all__ = ["LinkDownError", "LinkResetError", "LinkStatistics", "LinkTimeoutError", "SimLink"]


class LinkDownError(ConnectionError):
    """The link is (or went) down; ``fault_id`` names the cause."""

    def __init__(self, message: str, *, fault_id: str) -> None:
        super().__init__(message)
        self.fault_id = fault_id


class LinkResetError(ConnectionResetError):
    """The connection was reset after its byte budget."""

    def __init__(self, message: str, *, fault_id: str) -> None:
        super().__init__(message)
        self.fault_id = fault_id


class LinkTimeoutError(TimeoutError):
    """No answer by the deadline: lost (``fault_id`` set) or simply too slow (empty)."""

    def __init__(self, message: str, *, fault_id: str) -> None:
        super().__init__(message)
        self.fault_id = fault_id


@dataclass(frozen=True, slots=True)
class LinkStatistics:
    transfers: int
    delivered: int
    bytes_up: int
    bytes_down: int
    lost: int
    resets: int
    refused: int  # link down when the transfer started
    interrupted: int  # link went down mid-transfer
    deadline_exceeded: int
    state_changes: int


@dataclass(slots=True)
class _Lane:
    """Mutable state of one direction: its RNG stream, queue position, connection bytes."""

    rng: np.random.Generator
    busy_until: float = 0.0
    sent: int = 0


@dataclass(slots=True)
class _Counters:
    transfers: int = 0
    delivered: int = 0
    bytes: dict[Direction, int] = field(default_factory=lambda: dict.fromkeys(Direction, 0))
    lost: int = 0
    resets: int = 0
    refused: int = 0
    interrupted: int = 0
    deadline_exceeded: int = 0
    state_changes: int = 0


class SimLink:
    """One simulated link. Use ``async with SimLink(...) as link`` or ``start()``/``stop()``."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        rng: RngTree,
        profile: LinkProfile | str = "lan",
        down_windows: Sequence[DownWindow] = (),
        connectivity: Sequence[ConnectivityRow] = (),
        impairments: Sequence[Impairment] = (),
        trace: Trace | None = None,
        name: str = "link",
    ) -> None:
        self._rt = runtime
        self._profile = _resolve(profile)
        self.name = name
        self.trace = trace if trace is not None else Trace(runtime.monotonic)
        self._timeline = LinkTimeline(
            self._profile,
            down_windows=down_windows,
            connectivity=connectivity,
            impairments=impairments,
            outage_rng=rng.child("outages").numpy(),
        )
        self._lanes = {d: _Lane(rng.child(d.value).numpy()) for d in Direction}
        self._manual: dict[str, None] = {}  # active manual down faults, in order
        # Each transfer waits in a spawned sleeper; cutting the link by hand cancels them.
        self._sleepers: dict[Task[None], str] = {}  # sleeper -> fault id that cut it, or ""
        self._driver: Task[None] | None = None
        self._last: tuple[bool, LinkParams] | None = None
        self._up_listeners: list[Callable[[], None]] = []
        self._n = _Counters()

    # lifecycle
    def start(self) -> None:
        if self._driver is not None:
            raise InternalError(f"link {self.name!r} already started")
        state = self.state()
        self._last = (state.up, state.params)
        self.trace.record(
            "net.link.start",
            link=self.name,
            profile=self._profile.name,
            up=state.up,
            cause=state.cause,
        )
        self._driver = self._rt.spawn(self._drive(), name=f"link:{self.name}")

    async def stop(self) -> None:
        if self._driver is not None:
            await self._driver.stop()

    async def __aenter__(self) -> SimLink:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # state
    def state(self) -> LinkState:
        """The link now, manual faults included."""
        state = self._timeline.state_at(self._rt.monotonic())
        if self._manual:
            return LinkState(up=False, params=state.params, cause=next(iter(self._manual)))
        return state

    def is_up(self) -> bool:
        return self.state().up

    def on_up(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` each time the link comes back up (after ``start()``)."""
        self._up_listeners.append(listener)

    def set_up(self, up: bool, fault_id: str) -> None:
        """Take the link down by hand under ``fault_id`` (aborting transfers in flight), or
        lift that fault. The link is up again once no manual fault and no schedule holds it."""
        if up:
            self._manual.pop(fault_id, None)
        else:
            self._manual[fault_id] = None
            for sleeper, cut_by in self._sleepers.items():
                if not cut_by:
                    self._sleepers[sleeper] = fault_id
                    sleeper.cancel()
            now = self._rt.monotonic()
            for lane in self._lanes.values():
                lane.busy_until, lane.sent = min(lane.busy_until, now), 0
        self.trace.record("net.link.set", link=self.name, up=up, fault_id=fault_id)
        self._note_state()

    # transfers
    async def transfer(self, nbytes: int, direction: Direction | str, *, deadline: float) -> None:
        """Carry one message of ``nbytes``; return when it has arrived.

        Raises :class:`LinkDownError` (a ``ConnectionError``) when the link is down or goes
        down, :class:`LinkResetError` when the connection is reset, :class:`LinkTimeoutError`
        (a ``TimeoutError``) when the message is lost or ``deadline`` (absolute, in runtime
        seconds) passes first.
        """
        if self._driver is None:
            raise InternalError(f"link {self.name!r} used before start()")
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise ValueError(f"nbytes must be a whole number >= 0, got {nbytes!r}")
        way = Direction(direction)
        lane = self._lanes[way]
        now = self._rt.monotonic()
        self._n.transfers += 1
        jitter_draw, loss_draw = (float(x) for x in lane.rng.random(2))
        state = self.state()
        if not state.up:
            self._n.refused += 1
            self._fault("refused", way, nbytes, state.cause)
            raise LinkDownError(f"link {self.name!r} is down ({state.cause})", fault_id=state.cause)
        plan = plan_transfer(
            now=now,
            nbytes=nbytes,
            params=state.params.of(way),
            transmit_end=functools.partial(self._timeline.transmit_end, way),
            busy_until=lane.busy_until,
            sent=lane.sent,
            jitter_draw=jitter_draw,
            loss_draw=loss_draw,
        )
        horizon = max(now, deadline) if plan.lost else min(plan.arrival, max(now, deadline))
        outcome = settle(
            plan, now=now, deadline=deadline, down=self._timeline.first_down_in(now, horizon)
        )
        if outcome.end in (TransferEnd.RESET, TransferEnd.DOWN):
            lane.busy_until, lane.sent = min(plan.tx_end, outcome.at), 0
        elif outcome.end in (TransferEnd.DEADLINE, TransferEnd.LOST):
            # The caller gives up at its deadline and stops sending (gRPC cancels the stream):
            # the rest of the message no longer holds the lane.
            lane.busy_until, lane.sent = min(plan.tx_end, outcome.at), lane.sent + nbytes
        else:
            lane.busy_until, lane.sent = plan.tx_end, lane.sent + nbytes
        cause = await self._wait_until(outcome.at)
        if cause:  # cut by hand before the planned end
            self._n.interrupted += 1
            self._fault("down", way, nbytes, cause)
            raise LinkDownError(f"link {self.name!r} went down ({cause})", fault_id=cause)
        self._finish(outcome.end, outcome.cause, way, nbytes)

    async def _wait_until(self, at: float) -> str:
        """Sleep until ``at``; the fault id if the link was cut by hand first, else ""."""
        sleeper = self._rt.spawn(self._rt.sleep_until(at), name=f"link:{self.name}:transfer")
        self._sleepers[sleeper] = ""
        try:
            await sleeper.join()
        except asyncio.CancelledError:
            if not self._sleepers[sleeper]:  # the caller was cancelled, not the link cut
                sleeper.cancel()
                raise
        except BaseException:  # the caller's process was killed: stop its sleeper too
            sleeper.cancel()
            raise
        finally:
            cut_by = self._sleepers.pop(sleeper)
        return cut_by

    def statistics(self) -> LinkStatistics:
        n = self._n
        return LinkStatistics(
            transfers=n.transfers,
            delivered=n.delivered,
            bytes_up=n.bytes[Direction.UPSTREAM],
            bytes_down=n.bytes[Direction.DOWNSTREAM],
            lost=n.lost,
            resets=n.resets,
            refused=n.refused,
            interrupted=n.interrupted,
            deadline_exceeded=n.deadline_exceeded,
            state_changes=n.state_changes,
        )

    # internals
    def _finish(self, end: TransferEnd, cause: str, way: Direction, nbytes: int) -> None:
        if end is TransferEnd.DELIVERED:
            self._n.delivered += 1
            self._n.bytes[way] += nbytes
            return
        if end is TransferEnd.RESET:
            self._n.resets += 1
            fault_id = f"{self.name}:reset:{way.value}"
            self._fault("reset", way, nbytes, fault_id)
            raise LinkResetError(f"connection reset on link {self.name!r}", fault_id=fault_id)
        if end is TransferEnd.DOWN:
            self._n.interrupted += 1
            self._fault("down", way, nbytes, cause)
            raise LinkDownError(f"link {self.name!r} went down ({cause})", fault_id=cause)
        if end is TransferEnd.LOST:
            self._n.lost += 1
            fault_id = f"{self.name}:loss:{way.value}"
            self._fault("lost", way, nbytes, fault_id)
            raise LinkTimeoutError(f"message lost on link {self.name!r}", fault_id=fault_id)
        self._n.deadline_exceeded += 1
        self._fault("deadline", way, nbytes, "")
        raise LinkTimeoutError(f"deadline passed on link {self.name!r}", fault_id="")

    def _fault(self, fault: str, way: Direction, nbytes: int, fault_id: str) -> None:
        self.trace.record(
            "net.link.fault",
            link=self.name,
            fault=fault,
            direction=way.value,
            nbytes=nbytes,
            fault_id=fault_id,
        )

    async def _drive(self) -> None:
        """Record every scheduled state change when it happens."""
        t = self._rt.monotonic()
        while (nxt := self._timeline.next_change_after(t)) is not None:
            await self._rt.sleep_until(nxt)
            t = nxt
            self._note_state()

    def _note_state(self) -> None:
        state = self.state()
        if self._last is not None and (state.up, state.params) == self._last:
            return
        previous = self._last
        self._last = (state.up, state.params)
        if previous is None or previous[0] != state.up:
            self._n.state_changes += 1
            kind = "net.link.up" if state.up else "net.link.down"
            self.trace.record(kind, link=self.name, cause=state.cause)
            if state.up and previous is not None:
                for listener in self._up_listeners:
                    listener()
        if previous is None or previous[1] != state.params:
            self.trace.record("net.link.params", link=self.name, **_describe(state.params))


def _resolve(value: LinkProfile | str) -> LinkProfile:
    return profile(value) if isinstance(value, str) else value


def _describe(params: LinkParams) -> dict[str, object]:
    out: dict[str, object] = {}
    for way in Direction:
        p = params.of(way)
        out[way.value] = {
            "latency": p.latency,
            "jitter": p.jitter,
            "bandwidth": p.bandwidth,
            "loss": p.loss,
            "reset_after_bytes": p.reset_after_bytes,
        }
    return out
