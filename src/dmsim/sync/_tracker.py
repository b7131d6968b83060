"""The in-use tracker: which files someone is working on right now.

Shared by the sync engine (a file claimed for upload, from selection until its upload ends)
and the disk policies (a file being deleted). Whoever claims a path first owns it; the other
side skips it. So a file being uploaded is never deleted by a policy, and a file a policy is
deleting is never uploaded.

Unlike rdk's ``fileTracker``, every claim is released (policies use :meth:`hold`), so the set
never grows with the number of files ever handled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["InUseTracker", "TrackerStatistics"]


@dataclass(frozen=True, slots=True)
class TrackerStatistics:
    claims: int
    conflicts: int
    in_use: int
    high_water: int


class InUseTracker:
    """A set of claimed paths. Single event loop: claim and release are never interleaved."""

    def __init__(self) -> None:
        self._paths: set[str] = set()
        self._claims = 0
        self._conflicts = 0
        self._high_water = 0

    def try_claim(self, path: str) -> bool:
        """Claim ``path``; ``False`` (and nothing changes) if someone already holds it."""
        if path in self._paths:
            self._conflicts += 1
            return False
        self._paths.add(path)
        self._claims += 1
        self._high_water = max(self._high_water, len(self._paths))
        return True

    def release(self, path: str) -> None:
        """Give a claim back; releasing an unclaimed path is a bug and raises ``KeyError``."""
        self._paths.remove(path)

    def in_use(self, path: str) -> bool:
        """The predicate disk policies take (``in_use=tracker.in_use``)."""
        return path in self._paths

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def __len__(self) -> int:
        return len(self._paths)

    @contextmanager
    def hold(self, path: str) -> Iterator[bool]:
        """``with tracker.hold(p) as mine:`` claims ``p`` for the block if free; ``mine``
        says whether this caller got it (only then is it released on exit)."""
        mine = self.try_claim(path)
        try:
            yield mine
        finally:
            if mine:
                self.release(path)

    def statistics(self) -> TrackerStatistics:
        return TrackerStatistics(
            claims=self._claims,
            conflicts=self._conflicts,
            in_use=len(self._paths),
            high_water=self._high_water,
        )
