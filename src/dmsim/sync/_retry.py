"""The retry book: when each failing file may be tried again, and the global offline pause.

A small state machine, pure apart from the jitter source; every method takes ``now``
(monotonic seconds). rdk retried inline, so a failing file held a worker for up to an hour;
here a failure only writes an entry (attempts, next-attempt time, the request keys already
acknowledged) and the worker moves on. Passes skip a file until its time comes.

Offline errors do not count as the file's failures: they set one pause for every file (the
link is down for everyone); the file keeps its progress and its attempt count. The pause has
two parts, each running to the end of the longest wait begun for it: one the cloud asked for
by its answer (UNAVAILABLE, a refused key), which runs its course, and one for silence (the
cloud could not be reached), which also ends when the link is known to be up again. A call
that meets silence while the cloud's pause runs (it was in flight when the answer came) adds
to the silent part only.

Entries exist only for files that failed, so the book is as large as the set of failing files,
not the backlog. An entry whose file a complete walk did not see (deleted by a policy or an
operator) is dropped at the end of that walk (:meth:`end_walk`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from ._backoff import DEFAULT_BACKOFF, BackoffPolicy, RandomSource, next_wait
from ._classify import ErrorClass
from ._select import Candidate

__all__ = ["RetryBook", "RetryState"]

_TIMER_SLACK_S = 1e-3


@dataclass(frozen=True, slots=True)
class RetryState:
    """``attempts`` counts consecutive non-offline failures; ``acked_keys`` need no resend;
    ``unknown_keys`` were sent with an unknown outcome (a later ack may be a duplicate the
    cloud recognised)."""

    attempts: int = 0
    next_attempt_at: float = 0.0
    acked_keys: frozenset[str] = frozenset()
    unknown_keys: frozenset[str] = frozenset()
    last_code: str = ""
    seen_in_walk: int = 0
    origin: Candidate | None = None  # the file as last attempted: a retry needs no walk


class RetryBook:
    def __init__(self, *, rng: RandomSource, policy: BackoffPolicy = DEFAULT_BACKOFF) -> None:
        self._rng = rng
        self.policy = policy
        self._entries: dict[str, RetryState] = {}
        # (end of a wait, path) for every wait begun, as a heap: retry passes find what is
        # due without a scan of every entry. An item is live while its entry still waits
        # until then; the others are dropped once they reach the top.
        self._waits: list[tuple[float, str]] = []
        self._walk = 0
        self.offline_pauses = 0
        self._answered_until = 0.0  # the pause the cloud asked for: the link cannot end it
        self._silent_until = 0.0  # the pause for an unreachable cloud

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, path: str) -> RetryState | None:
        return self._entries.get(path)

    def due(self, path: str, now: float) -> bool:
        """Whether ``path`` may be attempted now (no entry, or its wait is over)."""
        state = self._entries.get(path)
        # a timer set for the wait's end may fire a hair early (asyncio runs timers within its
        # clock resolution; simulated time adds the delay in floating point)
        return state is None or now >= state.next_attempt_at - _TIMER_SLACK_S

    def due_retries(self, now: float) -> list[Candidate]:
        """The failed files whose wait is over, in path order, as last attempted."""
        limit = now + _TIMER_SLACK_S  # as due() judges
        due = {path for t, path in self._live_waits(lambda t: t <= limit) if t <= limit}
        origins = (self._entries[path].origin for path in sorted(due))
        return [origin for origin in origins if origin is not None]

    def next_retry_after(self, since: float) -> float | None:
        """The earliest time after ``since`` at which a failed file's wait ends (``None``: no
        file is waiting that long)."""
        later = [t for t, _ in self._live_waits(lambda t: t <= since) if t > since]
        return min(later, default=None)

    def _live_waits(self, descend: Callable[[float], bool]) -> Iterator[tuple[float, str]]:
        """Live heap items from the top down, entering a subtree below an item only when
        ``descend(its time)`` or the item is dead: an item not entered bounds all below it."""
        waits = self._waits
        while waits and not self._live(*waits[0]):
            heapq.heappop(waits)
        stack = [0] if waits else []
        while stack:
            index = stack.pop()
            t, path = waits[index]
            live = self._live(t, path)
            if live:
                yield t, path
            if not live or descend(t):
                stack.extend(
                    child for child in (2 * index + 1, 2 * index + 2) if child < len(waits)
                )

    def _live(self, t: float, path: str) -> bool:
        state = self._entries.get(path)
        return state is not None and state.attempts > 0 and state.next_attempt_at == t

    @property
    def offline_until(self) -> float:
        """When the global offline pause ends, unless the link's return ends it sooner."""
        return max(self._answered_until, self._silent_until)

    def paused(self, now: float) -> bool:
        """Whether the global offline pause is in force."""
        return now < self.offline_until

    def paused_unreachable(self, now: float) -> bool:
        """Whether the pause is in force only because the cloud could not be reached."""
        return self._answered_until <= now < self._silent_until

    def end_pause(self, now: float) -> None:
        """The link is known to be up again: a pause for an unreachable cloud has nothing
        left to wait for (one the cloud asked for by its answer runs its course)."""
        self._silent_until = min(self._silent_until, now)

    def record_failure(
        self,
        origin: Candidate,
        error_class: ErrorClass,
        *,
        code: str,
        acked: frozenset[str],
        unknown: frozenset[str],
        now: float,
        cloud_answered: bool = False,
    ) -> float:
        """Note a failed attempt of ``origin`` (the file as attempted); return the wait it
        caused (per file, or the global pause). ``cloud_answered``: the failure was the
        cloud's answer (a status), not silence or a refused connection."""
        path = origin.path
        old = self._entries.get(path, RetryState(seen_in_walk=self._walk))
        progress = replace(
            old,
            acked_keys=acked,
            unknown_keys=(old.unknown_keys | unknown) - acked,
            last_code=code,
            origin=origin,
        )
        if error_class is ErrorClass.OFFLINE:
            wait = next_wait(1, ErrorClass.OFFLINE, self._rng, self.policy)
            if cloud_answered:
                self._answered_until = max(self._answered_until, now + wait)
            else:
                self._silent_until = max(self._silent_until, now + wait)
            self.offline_pauses += 1
            self._entries[path] = progress
            return wait
        attempts = old.attempts + 1
        wait = next_wait(attempts, error_class, self._rng, self.policy)
        self._entries[path] = replace(progress, attempts=attempts, next_attempt_at=now + wait)
        heapq.heappush(self._waits, (now + wait, path))
        return wait

    def record_progress(self, path: str, *, acked: frozenset[str]) -> None:
        """Keep acknowledged keys for a file that is not done (e.g. its deletion failed)."""
        old = self._entries.get(path, RetryState(seen_in_walk=self._walk))
        self._entries[path] = replace(old, acked_keys=acked, unknown_keys=old.unknown_keys - acked)

    def forget(self, path: str) -> None:
        self._entries.pop(path, None)

    def begin_walk(self) -> None:
        self._walk += 1

    def saw(self, path: str) -> None:
        """The walk in progress found ``path`` on disk."""
        state = self._entries.get(path)
        if state is not None and state.seen_in_walk != self._walk:
            self._entries[path] = replace(state, seen_in_walk=self._walk)

    def end_walk(self) -> int:
        """After a *complete* walk: drop entries of files it did not find; return how many."""
        stale = [p for p, s in self._entries.items() if s.seen_in_walk != self._walk]
        for path in stale:
            del self._entries[path]
        return len(stale)
