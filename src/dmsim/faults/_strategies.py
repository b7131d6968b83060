"""Hypothesis strategies for fault schedules inside an :class:`Envelope`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._envelope import Envelope
from ._model import FaultSchedule

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["fault_schedules"]


def fault_schedules(
    *, duration: float, envelope: Envelope | None = None, min_faults: int = 0
) -> SearchStrategy[FaultSchedule]:
    """Schedules of ``min_faults`` to ``envelope.max_faults`` faults inside ``envelope``, all
    acting within ``[0, duration - envelope.quiet_tail_s]``, each at an absolute time on a
    0.1 s grid with ids ``f1``, ``f2`` … in generation order. (Fewer than ``min_faults`` only
    when a process fault would overlap another and is dropped, or when the envelope leaves no
    room for any fault: then every schedule is empty.)"""
    from ._generate import schedules

    env = envelope if envelope is not None else Envelope()
    if not 0 <= min_faults <= env.max_faults:
        raise ValueError(f"min_faults {min_faults} is not within 0..{env.max_faults} (max_faults)")
    return schedules(duration=duration, envelope=env, min_faults=min_faults)
