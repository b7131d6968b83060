"""The strength order of faults, for shrinking: each step's weaker variants, strongest first.

A variant keeps the step's ``at`` and ``fault_id`` (absolute times: weakening one fault never
moves another) and changes one thing towards harmless:

- a crash becomes a clean restart; a restart happens sooner;
- a window gets shorter (halved, down to :data:`MIN_WINDOW_S`);
- a probability steps down a ladder (loss 0.5 → 0.2 → 0.1 …); latency loses its jitter;
  latency, slow acks and clock steps halve; bandwidth caps and byte limits loosen (×4, up to a
  ceiling); a disk fill halves; a smaller disk grows;
- a network fault on both directions keeps to one (upstream requests or downstream answers);
- an RPC fault bounded by a window applies to one call only, then its count halves;
- an RPC fault on every RPC keeps to one of them; one naming several loses one;
- a restart mid-stream stops committing, then becomes a stall;
- lists (EIO ops, reconfigure changes) lose one entry, and so do a reconfigure's data manager
  attributes; a reconfigure doing both keeps to one of them.

Removing a step altogether is the shrinker's ddmin pass, not a variant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from ._kinds import RPC_NAMES
from ._model import FaultStep
from ._params import thaw

__all__ = ["MIN_WINDOW_S", "PROBABILITY_LADDER", "weaker_variants"]

MIN_WINDOW_S = 1.0
PROBABILITY_LADDER = (1.0, 0.5, 0.2, 0.1, 0.05, 0.01)
_MIN_LATENCY_S = 0.01
_LOOSEN = 4


def weaker_variants(step: FaultStep) -> tuple[FaultStep, ...]:
    """Every one-change weakening of ``step``, most drastic first; empty at the bottom."""
    variants = [*_kind_variants(step), *_window_variants(step)]
    unique: dict[str, FaultStep] = {}
    for variant in variants:
        if variant != step:
            unique.setdefault(variant.canonical(), variant)
    return tuple(unique.values())


def _with(step: FaultStep, **changes: Any) -> FaultStep:
    params = {**thaw(step.params), **changes}
    return replace(step, params={k: v for k, v in params.items() if v is not None})


def _window_variants(step: FaultStep) -> Iterator[FaultStep]:
    if step.duration is not None and step.duration > MIN_WINDOW_S:
        yield replace(step, duration=max(MIN_WINDOW_S, round(step.duration / 2, 1)))


def _kind_variants(step: FaultStep) -> Iterator[FaultStep]:
    weaken = _BY_KIND.get(step.kind)
    if weaken is not None:
        yield from weaken(step)
    if step.spec.counted:
        yield from _count_variants(step)
    if step.spec.param("direction") is not None and "direction" not in step.params:
        yield from _one_direction(step)
    if step.spec.param("rpcs") is not None:
        yield from _fewer_rpcs(step)


def _one_direction(step: FaultStep) -> Iterator[FaultStep]:
    for direction in ("upstream", "downstream"):
        yield _with(step, direction=direction)


def _fewer_rpcs(step: FaultStep) -> Iterator[FaultStep]:
    if "rpcs" in step.params:
        yield from _drop_one(step, "rpcs")
    else:
        for rpc in RPC_NAMES:
            yield _with(step, rpcs=[rpc])


def _crash(step: FaultStep) -> Iterator[FaultStep]:
    yield replace(step, kind="clean_restart")
    yield from _restart(step)


def _restart(step: FaultStep) -> Iterator[FaultStep]:
    after = float(step.params.get("restart_after", 0.0))
    if after > 0:
        yield _with(step, restart_after=round(after / 2, 1) if after > 0.2 else 0.0)


def _probability(name: str) -> Callable[[FaultStep], Iterator[FaultStep]]:
    def weaken(step: FaultStep) -> Iterator[FaultStep]:
        current = float(step.params.get(name, 1.0))
        lower = next((p for p in PROBABILITY_LADDER if p < current), None)
        if lower is not None:
            yield _with(step, **{name: lower})

    return weaken


def _halve(name: str, floor: float) -> Callable[[FaultStep], Iterator[FaultStep]]:
    def weaken(step: FaultStep) -> Iterator[FaultStep]:
        value = float(step.params[name])
        if abs(value) > floor:
            halved = round(value / 2, 3)
            yield _with(step, **{name: halved if abs(halved) >= floor else floor * _sign(value)})

    return weaken


def _sign(value: float) -> float:
    return -1.0 if value < 0 else 1.0


def _loosen(name: str, ceiling: float) -> Callable[[FaultStep], Iterator[FaultStep]]:
    def weaken(step: FaultStep) -> Iterator[FaultStep]:
        value = step.params[name]
        if value * _LOOSEN <= ceiling:
            yield _with(step, **{name: type(value)(value * _LOOSEN)})

    return weaken


def _halve_bytes(name: str) -> Callable[[FaultStep], Iterator[FaultStep]]:
    def weaken(step: FaultStep) -> Iterator[FaultStep]:
        value = int(step.params[name])
        if value > 1:
            yield _with(step, **{name: value // 2})

    return weaken


def _latency(step: FaultStep) -> Iterator[FaultStep]:
    if step.params.get("jitter"):
        yield _with(step, jitter=None)
    yield from _halve("seconds", _MIN_LATENCY_S)(step)


def _restart_mid_stream(step: FaultStep) -> Iterator[FaultStep]:
    if step.params.get("commit"):
        yield _with(step, commit=None)
    else:
        params = {k: v for k, v in thaw(step.params).items() if k != "commit"}
        yield replace(step, kind="stall_mid_stream", params=params)


def _disk_eio(step: FaultStep) -> Iterator[FaultStep]:
    yield from _probability("probability")(step)
    yield from _drop_one(step, "ops")


def _reconfigure(step: FaultStep) -> Iterator[FaultStep]:
    if "changes" in step.params and "data_manager" in step.params:
        yield _with(step, data_manager=None)
        yield _with(step, changes=None)
    yield from _drop_one(step, "changes")
    attributes = thaw(step.params.get("data_manager", {}))
    if len(attributes) > 1:
        for name in attributes:
            yield _with(step, data_manager={k: v for k, v in attributes.items() if k != name})


def _drop_one(step: FaultStep, name: str) -> Iterator[FaultStep]:
    items = list(thaw(step.params.get(name, [])))
    if len(items) > 1:
        for index in range(len(items)):
            yield _with(step, **{name: items[:index] + items[index + 1 :]})


def _count_variants(step: FaultStep) -> Iterator[FaultStep]:
    count = step.params.get("count")
    if count is None:
        yield _with(step, count=1)
    elif count > 1:
        yield _with(step, count=count // 2)


_BY_KIND: dict[str, Callable[[FaultStep], Iterator[FaultStep]]] = {
    "crash": _crash,
    "clean_restart": _restart,
    "latency": _latency,
    "bandwidth": _loosen("bytes_per_s", 1e9),
    "loss": _probability("probability"),
    "reset_after_bytes": _loosen("bytes", 2**30),
    "slow_ack": _halve("seconds", _MIN_LATENCY_S),
    "restart_mid_stream": _restart_mid_stream,
    "disk_fill": _halve_bytes("bytes"),
    "disk_eio": _disk_eio,
    "disk_capacity": _loosen("bytes", 2**40),
    "disk_append_garbage": _halve_bytes("bytes"),
    "reconfigure": _reconfigure,
    "clock_step": _halve("seconds", 1.0),
}
