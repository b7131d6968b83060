"""Deterministic signal building blocks: every value is a pure function of (seed, key, time).

Simulated devices never keep a stateful random stream: a reading at time ``t`` depends only
on the seed, the device's RNG path and ``t``. So the same seed and the same call times give
the same bytes; adding a collector, reading another method first, or rebuilding a device after
a simulated crash shifts nothing.

- :class:`Noise`: counter-based white noise (splitmix64 over CPython's tuple hash of seed,
  time and channel: the same on every 64-bit CPython, whatever ``PYTHONHASHSEED``).
- :class:`Smooth`: a sum of sinusoids with random frequencies and phases (value and slope).
- :class:`RandomWalk`: a Brownian walk sampled on a fixed grid, extended lazily, interpolated.
- :class:`Waypoints`: dwell-and-move between random waypoints with minimum-jerk blends.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np

from dmsim.runtime import RngTree

__all__ = ["Noise", "RandomWalk", "Smooth", "Waypoints", "min_jerk", "named_child", "stable_hash"]

_M64 = (1 << 64) - 1
_TWO_PI = 2.0 * math.pi


def _mix(z: int) -> int:
    """splitmix64's finalizer: a cheap, well-distributed 64-bit hash."""
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def named_child(rng: RngTree, name: str) -> RngTree:
    """``rng.child(name)`` for any user-given name (RNG paths reserve '/'; remote resource
    names such as ``rdk:component:board/my-esp32`` contain one)."""
    return rng.child(name.replace("%", "%25").replace("/", "%2F"))


def stable_hash(name: str) -> int:
    """A stable 64-bit integer for a name (FNV-1a; Python's ``hash`` of str is salted)."""
    value = 0xCBF29CE484222325
    for byte in name.encode():
        value = ((value ^ byte) * 0x100000001B3) & _M64
    return value


class Noise:
    """Counter-based randomness: ``uniform(key, channel)`` is a pure function of its inputs."""

    __slots__ = ("_seed",)

    def __init__(self, rng: RngTree) -> None:
        self._seed = rng.derived_seed()

    def bits(self, key: int, channel: int = 0) -> int:
        # splitmix64: the state is the seed stepped by odd constants times key and channel.
        return _mix(
            self._seed ^ ((key * 0x9E3779B97F4A7C15) ^ (channel * 0xC2B2AE3D27D4EB4F)) & _M64
        )

    def uniform(self, key: int, channel: int = 0) -> float:
        """Uniform in [0, 1)."""
        return (self.bits(key, channel) >> 11) * (1.0 / 9007199254740992.0)

    def normal(self, key: int, channel: int = 0) -> float:
        """Standard normal (Box-Muller on the two 32-bit halves of one draw)."""
        bits = self.bits(key, channel)
        u1 = ((bits >> 32) + 1) * (1.0 / 4294967296.0)  # (0, 1]: log is finite
        u2 = (bits & 0xFFFFFFFF) * (1.0 / 4294967296.0)
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)

    def generator(self, key: int) -> np.random.Generator:
        """A numpy generator for bulk draws (images, point clouds) keyed by ``key``."""
        return np.random.default_rng([self._seed, key & _M64])


class Smooth:
    """A band-limited smooth signal ``offset + Σ aᵢ·sin(2π fᵢ t + φᵢ)``.

    Amplitudes fall as 1/f so slow components dominate, like a real drifting quantity.
    ``amplitude`` bounds the peak deviation from ``offset``.
    """

    __slots__ = ("_amps", "_freqs", "_offset", "_phases")

    def __init__(
        self,
        rng: RngTree,
        *,
        offset: float = 0.0,
        amplitude: float = 1.0,
        min_hz: float = 0.01,
        max_hz: float = 0.2,
        terms: int = 4,
    ) -> None:
        gen = rng.numpy()
        freqs = np.exp(gen.uniform(math.log(min_hz), math.log(max_hz), terms))
        weights = 1.0 / freqs
        weights *= amplitude / weights.sum()
        self._freqs = tuple(float(f) for f in freqs)
        self._amps = tuple(float(a) for a in weights)
        self._phases = tuple(float(p) for p in gen.uniform(0.0, _TWO_PI, terms))
        self._offset = offset

    def value(self, t: float) -> float:
        total = self._offset
        for f, a, p in zip(self._freqs, self._amps, self._phases, strict=True):
            total += a * math.sin(_TWO_PI * f * t + p)
        return total

    def slope(self, t: float) -> float:
        """d value / dt."""
        total = 0.0
        for f, a, p in zip(self._freqs, self._amps, self._phases, strict=True):
            total += a * _TWO_PI * f * math.cos(_TWO_PI * f * t + p)
        return total

    def curvature(self, t: float) -> float:
        """d² value / dt²."""
        total = 0.0
        for f, a, p in zip(self._freqs, self._amps, self._phases, strict=True):
            w = _TWO_PI * f
            total -= a * w * w * math.sin(w * t + p)
        return total


class RandomWalk:
    """Brownian motion with ``sigma`` per √s, sampled every ``step_s`` and interpolated.

    Knots are generated from counter-based noise, so the walk is the same however it is
    queried; only the knots up to the latest time asked for are kept (8 bytes each).
    """

    __slots__ = ("_knots", "_noise", "_scale", "_step")

    def __init__(self, noise: Noise, *, sigma: float, step_s: float = 1.0) -> None:
        self._noise = noise
        self._step = step_s
        self._scale = sigma * math.sqrt(step_s)
        self._knots = array("d", [0.0])

    def value(self, t: float) -> float:
        position = max(0.0, t) / self._step
        index = int(position)
        knots = self._knots
        while len(knots) <= index + 1:
            knots.append(knots[-1] + self._scale * self._noise.normal(len(knots)))
        frac = position - index
        return knots[index] + (knots[index + 1] - knots[index]) * frac


def min_jerk(s: float) -> float:
    """The minimum-jerk blend 10s³ − 15s⁴ + 6s⁵ on [0, 1]: zero speed and acceleration at ends."""
    s = min(1.0, max(0.0, s))
    return s * s * s * (10.0 + s * (-15.0 + 6.0 * s))


@dataclass(frozen=True, slots=True)
class _Segment:
    index: int
    blend: float


class Waypoints:
    """Moves between random waypoints: ``dwell_s`` at rest, then ``move_s`` of smooth motion.

    Waypoint ``k`` of axis ``i`` is uniform in ``[low[i], high[i]]``, drawn from the noise by
    ``k`` — a pure function of time, like every signal here.
    """

    __slots__ = ("_dwell", "_high", "_low", "_move", "_noise")

    def __init__(
        self,
        noise: Noise,
        *,
        low: tuple[float, ...],
        high: tuple[float, ...],
        move_s: float,
        dwell_s: float,
    ) -> None:
        self._noise = noise
        self._low = low
        self._high = high
        self._move = move_s
        self._dwell = dwell_s

    def _segment(self, t: float) -> _Segment:
        period = self._move + self._dwell
        index = int(max(0.0, t) // period)
        into = max(0.0, t) - index * period - self._dwell
        return _Segment(index, min_jerk(into / self._move) if into > 0 else 0.0)

    def _waypoint(self, k: int) -> list[float]:
        return [
            lo + (hi - lo) * self._noise.uniform(k, axis)
            for axis, (lo, hi) in enumerate(zip(self._low, self._high, strict=True))
        ]

    def value(self, t: float) -> list[float]:
        seg = self._segment(t)
        start, end = self._waypoint(seg.index), self._waypoint(seg.index + 1)
        return [a + (b - a) * seg.blend for a, b in zip(start, end, strict=True)]

    def velocity(self, t: float) -> list[float]:
        """Central difference of :meth:`value` (units per second)."""
        h = 1e-4
        before, after = self.value(t - h), self.value(t + h)
        return [(b - a) / (2 * h) for a, b in zip(before, after, strict=True)]
