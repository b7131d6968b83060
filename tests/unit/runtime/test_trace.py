"""The trace recorder: ordering, counts, and what a run that keeps no events still sees."""

from __future__ import annotations

from dmsim.runtime import Trace


def test_a_trace_that_keeps_nothing_still_numbers_counts_and_notifies() -> None:
    # `dmsim simulate` reads its summary from listeners: a day of readings kept as events
    # took 1.7 GB. Numbering must not depend on what is kept, or traces would differ.
    ticks = iter(range(100))
    kept, bare = Trace(lambda: float(next(ticks))), Trace(lambda: 0.0, keep=lambda kind: False)
    seen: list[tuple[int, str]] = []
    bare.subscribe(lambda event: seen.append((event.index, event.kind)))
    for kind in ("a", "b", "a"):
        kept.record(kind, n=1)
        bare.record(kind, n=1)
    assert list(bare) == []
    assert [e.index for e in kept] == [0, 1, 2]
    assert seen == [(0, "a"), (1, "b"), (2, "a")]
    assert (len(kept), len(bare)) == (3, 3)
    assert kept.count("a") == bare.count("a") == 2
    assert kept.count("c") == 0
