"""Shrinking a failing fault schedule to a minimal one, keeping absolute times.

Three passes over a predicate ``fails(schedule) -> bool`` (each call is a full run, so results
are memoised and a run budget bounds the work):

1. **ddmin** over the steps (Zeller's delta debugging: try halves, then complements, then finer
   splits) — fewer faults;
2. **weaken** each remaining step along the strength order
   (:func:`dmsim.faults.weaker_variants`), greedily, until no variant still fails — weaker faults;
3. a last one-at-a-time removal, since a weakened schedule may no longer need every step.

Steps keep their ``at`` and ``fault_id`` throughout: removing or weakening one fault never
moves another (shrinking with relative times would).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dmsim.faults import FaultSchedule, FaultStep, weaker_variants

__all__ = ["ShrinkResult", "shrink_schedule"]


@dataclass(frozen=True, slots=True)
class ShrinkResult:
    schedule: FaultSchedule
    runs: int  # predicate evaluations that ran (memo hits not counted)
    log: tuple[str, ...]  # each accepted change, in order
    exhausted: bool  # stopped because the run budget ran out


class _Budgeted:
    """The predicate with a memo and a budget; over budget every new schedule 'passes'."""

    def __init__(self, fails: Callable[[FaultSchedule], bool], max_runs: int) -> None:
        self._fails = fails
        self._memo: dict[str, bool] = {}
        self.max_runs = max_runs
        self.runs = 0
        self.exhausted = False

    def __call__(self, steps: Sequence[FaultStep]) -> bool:
        schedule = FaultSchedule(tuple(steps))
        key = schedule.canonical()
        if key not in self._memo:
            if self.runs >= self.max_runs:
                self.exhausted = True
                return False
            self.runs += 1
            self._memo[key] = self._fails(schedule)
        return self._memo[key]


def _split(steps: Sequence[FaultStep], n: int) -> list[list[FaultStep]]:
    size, extra = divmod(len(steps), n)
    chunks, start = [], 0
    for index in range(n):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(steps[start:end]))
        start = end
    return [chunk for chunk in chunks if chunk]


def _ddmin(steps: list[FaultStep], test: _Budgeted, log: list[str]) -> list[FaultStep]:
    n = 2
    while len(steps) >= 2:
        chunks = _split(steps, n)
        candidates = chunks + [
            [s for other in chunks if other is not chunk for s in other] for chunk in chunks
        ]
        smaller = next((c for c in candidates if len(c) < len(steps) and test(c)), None)
        if smaller is not None:
            kept = {s.fault_id for s in smaller}
            log.append(f"removed {', '.join(s.fault_id for s in steps if s.fault_id not in kept)}")
            steps = smaller
            n = max(n - 1, 2)
        elif n >= len(steps):
            break
        else:
            n = min(len(steps), 2 * n)
    return steps


def _weaken(steps: list[FaultStep], test: _Budgeted, log: list[str]) -> list[FaultStep]:
    changed = True
    while changed:
        changed = False
        for index in range(len(steps)):
            for variant in weaker_variants(steps[index]):
                candidate = [*steps[:index], variant, *steps[index + 1 :]]
                if test(candidate):
                    log.append(f"weakened {_describe(steps[index])} → {_describe(variant)}")
                    steps = candidate
                    changed = True
                    break
    return steps


def _remove_each(steps: list[FaultStep], test: _Budgeted, log: list[str]) -> list[FaultStep]:
    index = 0
    while index < len(steps):
        candidate = [*steps[:index], *steps[index + 1 :]]
        if test(candidate):
            log.append(f"removed {steps[index].fault_id}")
            steps = candidate
        else:
            index += 1
    return steps


def _describe(step: FaultStep) -> str:
    doc = step.to_document()
    params = ", ".join(f"{k}={v}" for k, v in doc.items() if k not in ("at", "kind", "id"))
    return f"{step.fault_id} {step.kind}({params})"


def shrink_schedule(
    schedule: FaultSchedule,
    fails: Callable[[FaultSchedule], bool],
    *,
    max_runs: int = 200,
) -> ShrinkResult:
    """A minimal schedule that still ``fails`` (``schedule`` itself is assumed to fail)."""
    test = _Budgeted(fails, max_runs)
    log: list[str] = []
    steps = list(schedule.steps)
    if steps and test([]):
        log.append("fails without any fault")
        steps = []
    steps = _ddmin(steps, test, log)
    steps = _weaken(steps, test, log)
    steps = _remove_each(steps, test, log)
    return ShrinkResult(FaultSchedule(tuple(steps)), test.runs, tuple(log), test.exhausted)
