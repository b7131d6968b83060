"""Hypothesis strategies behind :func:`dmsim.faults.fault_schedules` (imported on first use:
hypothesis is slow to import and only generators need it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ._envelope import CaptureMethodRef, Envelope
from ._kinds import DISK_OPS, KINDS, RPC_NAMES
from ._model import FaultSchedule, FaultStep
from ._weaken import PROBABILITY_LADDER

__all__ = ["schedules"]

_BANDWIDTHS = (1_000.0, 10_000.0, 100_000.0, 1_000_000.0)
_BYTE_LIMITS = (1024, 65536, 1 << 20)
_MIB = 1 << 20
_RARELY = 8  # a rare change rides along with about one reconfigure in this many


def _tenths(draw: st.DrawFn, low: float, high: float) -> float:
    """A time in [low, high] on a 0.1 s grid (readable schedules, stable YAML)."""
    return draw(st.integers(round(low * 10), max(round(low * 10), int(high * 10)))) / 10


@st.composite
def _step(draw: st.DrawFn, kind: str, index: int, limit: float, env: Envelope) -> FaultStep:
    spec = KINDS[kind]
    params: dict[str, Any] = {}
    if kind == "rpc_reject":
        fits = limit - env.pause_s >= env.min_window_s
        codes = [c for c in env.rpc_codes if fits or c not in env.pausing_codes]
        # (no code fits: the scenario is too short for the pause, and the judge says so)
        params["code"] = draw(st.sampled_from(codes or env.rpc_codes))
        if params["code"] in env.pausing_codes:
            limit -= env.pause_s  # the machine waits that long after the window's last answer
    if kind == "clean_restart":
        limit -= env.stop_s  # the restart delay begins once the stop is over
    # Optional windows are always drawn: a fault must stop acting before the quiet tail.
    windowed = spec.window != "forbidden"
    latest = limit - env.min_window_s if windowed else limit
    at = _tenths(draw, 0.0, max(0.0, latest))
    duration = None
    if windowed:
        duration = _tenths(
            draw, env.min_window_s, max(env.min_window_s, min(env.max_window_s, limit - at))
        )
    params |= draw(_params(kind, at, limit, env))
    if spec.param("rpcs") is not None:
        params |= draw(_rpcs(env.rpcs))
    if spec.counted and draw(st.booleans()):
        params["count"] = draw(st.integers(1, 5))
    return FaultStep(at=at, kind=kind, params=params, fault_id=f"f{index + 1}", duration=duration)


@st.composite
def _params(draw: st.DrawFn, kind: str, at: float, limit: float, env: Envelope) -> dict[str, Any]:
    if kind in ("crash", "clean_restart"):
        return {"restart_after": _tenths(draw, 0.0, min(env.max_restart_after_s, limit - at))}
    if KINDS[kind].group == "network" and kind != "link_down":
        return {**draw(_network_params(kind, env)), **draw(_direction())}
    if kind == "slow_ack":
        return {"seconds": draw(st.integers(1, 300)) / 10}
    if kind == "stall_mid_stream":
        return {"after_bytes": draw(st.sampled_from((0, 65536)))}
    if kind == "restart_mid_stream":
        return {"after_bytes": draw(st.sampled_from((0, 65536))), "commit": draw(st.booleans())}
    if kind == "disk_fill":
        return {"bytes": draw(st.integers(1, env.max_disk_fill_bytes // _MIB)) * _MIB}
    if kind == "disk_capacity":
        return {"bytes": draw(st.integers(64, 4096)) * _MIB}
    if kind == "disk_append_garbage":
        return {"bytes": draw(st.sampled_from((1, 137, 4096)))}
    if kind == "disk_eio":
        ops = draw(st.lists(st.sampled_from(DISK_OPS), min_size=1, max_size=3, unique=True))
        return {"ops": sorted(ops), "probability": draw(st.sampled_from(PROBABILITY_LADDER))}
    if kind == "clock_step":
        magnitude = draw(st.integers(1, max(1, int(env.max_clock_step_s))))
        return {"seconds": float(magnitude if draw(st.booleans()) else -magnitude)}
    if kind == "reconfigure":
        return draw(_reconfigure(env))
    if KINDS[kind].group == "device":
        return {"component": draw(st.sampled_from(env.components))}
    return {}


@st.composite
def _network_params(draw: st.DrawFn, kind: str, env: Envelope) -> dict[str, Any]:
    if kind == "latency":
        most = int(env.max_latency_s * 1000)
        millis = draw(st.integers(10, most))
        # the worst delay, latency plus jitter, stays within the envelope
        jitter = draw(st.integers(0, min(millis, most - millis)))
        return {"seconds": millis / 1000} | ({"jitter": jitter / 1000} if jitter else {})
    if kind == "bandwidth":
        return {"bytes_per_s": draw(st.sampled_from(_BANDWIDTHS))}
    if kind == "loss":
        ladder = [p for p in PROBABILITY_LADDER if p <= env.max_loss] or [PROBABILITY_LADDER[-1]]
        return {"probability": draw(st.sampled_from(ladder))}
    return {"bytes": draw(st.sampled_from(_BYTE_LIMITS))}


def _rpcs(allowed: Sequence[str]) -> st.SearchStrategy[dict[str, list[str]]]:
    """Every RPC (the parameter left out) when the envelope allows them all, or some of them:
    a fault on one RPC lets the others flow past it."""
    some = st.lists(st.sampled_from(allowed), min_size=1, max_size=len(allowed), unique=True)
    named = some.map(lambda rpcs: {"rpcs": sorted(rpcs, key=RPC_NAMES.index)})
    if set(allowed) == set(RPC_NAMES):
        return st.just({}) | named
    return named


def _direction() -> st.SearchStrategy[dict[str, str]]:
    """Both directions (the parameter left out), or only requests, or only answers."""
    return st.sampled_from(({}, {"direction": "upstream"}, {"direction": "downstream"}))


@st.composite
def _reconfigure(draw: st.DrawFn, env: Envelope) -> dict[str, Any]:
    """Capture method changes, data manager attributes, or both (never neither, never a rare
    change alone)."""
    params: dict[str, Any] = {}
    settings = env.data_manager_settings
    common = [s for s in settings if not s.rare]
    if env.capture_methods and (not common or draw(st.booleans())):
        params["changes"] = draw(_changes(env.capture_methods))
    if common and (not params or draw(st.booleans())):
        chosen = draw(
            st.lists(st.sampled_from(common), min_size=1, max_size=len(common), unique=True)
        )
        attributes = {s.attribute: draw(st.sampled_from(s.values)) for s in chosen}
        for setting in settings:
            if setting.rare and (value := _rarely(draw, setting.values)) is not None:
                attributes[setting.attribute] = value
        params["data_manager"] = attributes
    return params


def _rarely(draw: st.DrawFn, values: Sequence[Any]) -> Any:
    """One of ``values`` about once in :data:`_RARELY` draws, else ``None`` (what a draw
    shrinks to: a shrunk schedule keeps a rare change only if the failure needs it)."""
    pick = draw(st.integers(0, _RARELY - 1)) - (_RARELY - len(values))
    return values[pick] if pick >= 0 else None


@st.composite
def _changes(draw: st.DrawFn, methods: Sequence[CaptureMethodRef]) -> list[dict[str, Any]]:
    """New rates for some capture methods, now and then turning one off or back on."""
    chosen = draw(
        st.lists(st.sampled_from(methods), min_size=1, max_size=len(methods), unique=True)
    )
    changes = []
    for m in chosen:
        rate = draw(st.sampled_from((m.capture_frequency_hz / 2, m.capture_frequency_hz * 2)))
        change: dict[str, Any] = {
            "resource": m.resource,
            "method": m.method,
            "capture_frequency_hz": rate,
        }
        if (disabled := _rarely(draw, (True, False))) is not None:
            change["disabled"] = disabled
        changes.append(change)
    return changes


def _without_process_overlaps(steps: list[FaultStep]) -> list[FaultStep]:
    """Drop process faults that fall while the process is down (a reconfigure then is a config
    file edited while the machine is off)."""
    kept: list[FaultStep] = []
    down_until = -1.0
    for step in sorted(steps, key=lambda s: (s.at, s.fault_id)):
        if step.group == "process":
            if step.at < down_until:
                continue
            down_until = step.end
        kept.append(step)
    return kept


@st.composite
def schedules(
    draw: st.DrawFn, *, duration: float, envelope: Envelope, min_faults: int = 0
) -> FaultSchedule:
    env = envelope
    limit = duration - env.quiet_tail_s
    kinds = env.usable_kinds()
    if not kinds or limit < env.min_window_s:
        return FaultSchedule()
    chosen = draw(st.lists(st.sampled_from(kinds), min_size=min_faults, max_size=env.max_faults))
    steps: list[FaultStep] = []
    for kind in chosen:
        if len(steps) == env.max_faults:
            break  # restoring steps took the room of the last kinds drawn
        step = draw(_step(kind, len(steps), limit, env))
        steps.append(step)
        undo_id = f"f{len(steps) + 1}"
        if len(steps) < env.max_faults and (undo := draw(_undone(step, undo_id, limit, env))):
            steps.append(undo)
    return FaultSchedule(tuple(_without_process_overlaps(steps)))


@st.composite
def _undone(
    draw: st.DrawFn, step: FaultStep, fault_id: str, limit: float, env: Envelope
) -> FaultStep | None:
    """For about half the reconfigures that change a rare setting (scheduled sync turned off),
    a later one that restores it. Left to a second rare draw, a run that turned sync off
    almost never turned it on again, and so was never held to draining after that. The
    restoring step shrinks away unless the failure needs it."""
    configured = {s.attribute: s.values[-1] for s in env.data_manager_settings if s.rare}
    attributes = step.params.get("data_manager", {})
    restored = {
        name: configured[name]
        for name, value in attributes.items()
        if name in configured and value != configured[name]
    }
    if not restored or not draw(st.booleans()):
        return None
    at = _tenths(draw, step.at, limit)
    return FaultStep(at, "reconfigure", {"data_manager": restored}, fault_id=fault_id)
