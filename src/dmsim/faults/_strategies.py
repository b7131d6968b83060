"""Hypothesis strategies for fault schedules inside an :class:`Envelope`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._envelope import Envelope
from ._model import FaultSchedule

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["fault_schedules"]


def fault_schedules(
    *, duration: float, envelope: Envelope | None = None
) -> SearchStrategy[FaultSchedule]:
    """Schedules of up to ``envelope.max_faults`` faults inside ``envelope``, all acting
    within ``[0, duration - envelope.quiet_tail_s]``, each at an absolute time on a 0.1 s
    grid with ids ``f1``, ``f2`` … in generation order."""
    from ._generate import schedules

    return schedules(duration=duration, envelope=envelope if envelope is not None else Envelope())
