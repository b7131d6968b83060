"""Retry waits: rdk's exponential backoff, with seeded jitter.

The *ceiling* is exactly rdk's wait (``exponential_retry.go``): the first retry after 200 ms,
doubling each attempt, capped at one hour and then hourly; an offline error (gRPC
``UNAVAILABLE``, ``ConnectionError``, link down) waits a fixed 60 s instead, and that wait is
global: the link is down for every file, so the engine pauses all uploads rather than backing
off each file separately (rdk's workers each waited on their own).

The actual wait is drawn uniformly from ``(ceiling * (1 - jitter), ceiling]`` with a random
source derived from the engine's ``RngTree`` child, so a fleet whose uploads all failed at the
same instant (a cloud restart) does not retry in one stampede. A data manager takes the jitter
from the machine config's ``sync_backoff_jitter`` attribute (default 0.1), so by default each
wait is 90-100 % of rdk's. A :class:`BackoffPolicy` built without one (an engine made
directly, as in tests and benchmarks) has ``jitter = 1``, "full jitter" (AWS Architecture
Blog, *Exponential Backoff and Jitter*), spreading retries over the whole interval. The wait
is never zero, so a hot loop is impossible. ``jitter = 0`` reproduces rdk exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from dmsim.errors import ConfigError, Problem

from ._classify import ErrorClass

__all__ = ["DEFAULT_BACKOFF", "BackoffPolicy", "RandomSource", "backoff_ceiling", "next_wait"]


class RandomSource(Protocol):
    """The one method of ``random.Random`` the backoff needs: a float in ``[0, 1)``."""

    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """rdk's constants (``InitialWaitTimeMillis``, ``RetryExponentialFactor``,
    ``maxRetryInterval``, ``offlineWaitTimeSeconds``) plus the jitter fraction (full jitter
    here; a machine config's default is 0.1)."""

    initial_s: float = 0.2
    factor: float = 2.0
    cap_s: float = 3600.0
    offline_s: float = 60.0
    jitter: float = 1.0

    def __post_init__(self) -> None:
        problems = [
            Problem(name, f"must be a finite number > 0, got {value!r}")
            for name, value in (
                ("initial_s", self.initial_s),
                ("cap_s", self.cap_s),
                ("offline_s", self.offline_s),
            )
            if not (math.isfinite(value) and value > 0)
        ]
        if not (math.isfinite(self.factor) and self.factor >= 1):
            problems.append(Problem("factor", f"must be a finite number >= 1, got {self.factor!r}"))
        if not (0 <= self.jitter <= 1):
            problems.append(Problem("jitter", f"must be in [0, 1], got {self.jitter!r}"))
        if self.cap_s < self.initial_s:
            problems.append(Problem("cap_s", f"must be >= initial_s ({self.initial_s!r})"))
        if problems:
            raise ConfigError(problems, source="sync backoff policy")


DEFAULT_BACKOFF = BackoffPolicy()


def backoff_ceiling(
    attempt: int, error_class: ErrorClass, policy: BackoffPolicy = DEFAULT_BACKOFF
) -> float:
    """The un-jittered wait after the ``attempt``-th consecutive failure (``attempt >= 1``)."""
    if attempt < 1:
        raise ValueError(f"attempt counts failures and starts at 1, got {attempt}")
    if error_class is ErrorClass.OFFLINE:
        return policy.offline_s
    if error_class in (ErrorClass.TERMINAL, ErrorClass.GONE):
        raise ValueError(f"a {error_class} error is never retried, so it has no wait")
    if policy.factor == 1:
        return min(policy.initial_s, policy.cap_s)
    # Past this many doublings the cap is reached; computing further would overflow a float.
    doublings_to_cap = math.log(policy.cap_s / policy.initial_s, policy.factor)
    if attempt - 1 >= doublings_to_cap:
        return policy.cap_s
    return min(policy.cap_s, policy.initial_s * policy.factor ** (attempt - 1))


def next_wait(
    attempt: int,
    error_class: ErrorClass,
    rng: RandomSource,
    policy: BackoffPolicy = DEFAULT_BACKOFF,
) -> float:
    """Seconds to wait before the next attempt: the ceiling, jittered (see the module doc)."""
    ceiling = backoff_ceiling(attempt, error_class, policy)
    return ceiling * (1.0 - policy.jitter * rng.random())
