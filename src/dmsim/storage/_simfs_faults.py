"""SimFS fault model: which operation an injected EIO fails, where a power cut tears a file,
and the record of what a power cut dropped.

Each injected fault draws from its own RNG stream, ``rng/eio/<fault_id>``, so adding or removing
one fault never shifts another's draws, and a draw happens only for an operation the fault
matches (same schedule, same failures). A fault fires on every matching operation, or on each
with ``probability``; with ``count`` it disarms itself after that many failures.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from dmsim.errors import InjectedFault, Problem, ScenarioError

if TYPE_CHECKING:
    from dmsim.runtime import RngTree, Trace

__all__ = [
    "OPS",
    "CrashReport",
    "CrashedFile",
    "Draws",
    "EioFault",
    "FaultTable",
    "is_under",
    "torn_length",
]

#: Operations an EIO fault can target (``open`` covers both kinds of open).
OPS = frozenset({"fsync", "fsync_dir", "open", "read", "rename", "unlink", "write"})


def is_under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or inside it (``/a/b`` is under ``/a``; ``/ab`` is not)."""
    if prefix in (path, "/"):
        return True
    return path.startswith(prefix) and path[len(prefix)] == "/"


@dataclass(frozen=True, slots=True)
class EioFault:
    """An injected I/O error: ``ops`` on paths under ``prefix`` fail with ``EIO``."""

    fault_id: str
    prefix: str
    ops: frozenset[str]
    count: int | None = None
    probability: float | None = None

    def problems(self) -> list[Problem]:
        where = f"disk fault {self.fault_id!r}"
        found: list[Problem] = []
        if not self.fault_id or "/" in self.fault_id:
            found.append(Problem("fault_id", "must be non-empty and contain no '/'"))
        if not self.prefix.startswith("/"):
            found.append(Problem(f"{where}.prefix", f"must be an absolute path: {self.prefix!r}"))
        if not self.ops or not self.ops <= OPS:
            unknown = sorted(self.ops - OPS) if self.ops else "none given"
            found.append(
                Problem(f"{where}.ops", f"unknown ops {unknown}; choose from {sorted(OPS)}")
            )
        if self.count is not None and self.count < 1:
            found.append(Problem(f"{where}.count", f"must be at least 1, got {self.count}"))
        if self.probability is not None and not 0.0 < self.probability <= 1.0:
            found.append(
                Problem(f"{where}.probability", f"must be in (0, 1], got {self.probability}")
            )
        return found


class Draws(Protocol):
    """The part of ``random.Random`` the fault model uses (from an ``RngTree`` node)."""

    def random(self) -> float: ...

    def randrange(self, start: int, /) -> int: ...


class _Armed:
    __slots__ = ("fault", "remaining", "rng")

    def __init__(self, fault: EioFault, rng: Draws | None) -> None:
        self.fault = fault
        self.remaining = fault.count
        self.rng = rng


class FaultTable:
    """The armed faults of one SimFS, in the order they were injected."""

    def __init__(self, rng: RngTree, trace: Trace | None) -> None:
        self._rng = rng.child("eio")
        self._trace = trace
        self.armed: list[_Armed] = []
        self.fired = 0

    def arm(self, fault: EioFault) -> None:
        problems = fault.problems()
        if any(a.fault.fault_id == fault.fault_id for a in self.armed):
            problems.append(Problem("fault_id", f"fault {fault.fault_id!r} is already armed"))
        if problems:
            raise ScenarioError(problems, source="SimFS.inject_eio")
        rng = self._rng.child(fault.fault_id).random() if fault.probability else None
        self.armed.append(_Armed(fault, rng))

    def disarm(self, fault_id: str | None) -> int:
        """Disarm one fault (or all with ``None``); the number disarmed."""
        before = len(self.armed)
        self.armed = [
            a for a in self.armed if fault_id is not None and a.fault.fault_id != fault_id
        ]
        return before - len(self.armed)

    def active(self) -> tuple[EioFault, ...]:
        return tuple(a.fault for a in self.armed)

    def check(self, op: str, *paths: str) -> None:
        """Raise the first armed fault that fires for ``op`` on any of ``paths``."""
        for armed in self.armed:
            fault = armed.fault
            if op not in fault.ops or not any(is_under(p, fault.prefix) for p in paths):
                continue
            if armed.rng is not None and armed.rng.random() >= (fault.probability or 0.0):
                continue
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining == 0:
                    self.armed.remove(armed)
            self._fire(fault, op, paths[0])

    def _fire(self, fault: EioFault, op: str, path: str) -> None:
        self.fired += 1
        if self._trace is not None:
            self._trace.record("fs.fault", fault_id=fault.fault_id, errno="EIO", op=op, path=path)
        cause = InjectedFault(fault.fault_id, f"EIO on {op} of {path}")
        raise OSError(errno.EIO, f"[{fault.fault_id}] injected I/O error on {op}", path) from cause


def torn_length(durable: int, live: int, block_size: int, rng: Draws) -> int:
    """How many bytes of a file survive a tearing power cut.

    Uniform over: the durable length, every block boundary strictly between it and the live
    length, and the live length (all pending blocks made it).
    """
    if live <= durable:
        return live
    first = durable // block_size + 1  # first boundary past the durable prefix
    last = (live - 1) // block_size  # last boundary before the live end
    boundaries = max(0, last - first + 1)
    pick = rng.randrange(boundaries + 2)
    if pick == 0:
        return durable
    if pick == boundaries + 1:
        return live
    return (first + pick - 1) * block_size


@dataclass(frozen=True, slots=True)
class CrashedFile:
    """A file that had pending bytes at a power cut: how many it kept and how many it lost."""

    path: str
    durable_bytes: int
    kept_bytes: int
    dropped_bytes: int


@dataclass(frozen=True, slots=True)
class CrashReport:
    """What a power cut did: pending bytes dropped per file, and file names that changed."""

    files: tuple[CrashedFile, ...]
    vanished: tuple[str, ...]  # file paths that existed before the cut and not after it
    resurrected: tuple[str, ...]  # file paths that did not exist before the cut and do after it

    @property
    def dropped_bytes(self) -> int:
        return sum(f.dropped_bytes for f in self.files)
