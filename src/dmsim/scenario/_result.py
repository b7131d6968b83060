"""What one run of a scenario's world hands to the oracle and the report.

The world (``dmsim.scenario._world.run_world``) builds the simulated machine, runs it and
returns a :class:`WorldResult`; everything downstream (oracle, report, plot, fuzzer) reads
only this record, so it can also be built by hand in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dmsim.runtime import Trace

if TYPE_CHECKING:
    from ._model import Scenario

__all__ = ["Sample", "WorldResult", "WorldRunner"]


@dataclass(frozen=True, slots=True)
class Sample:
    """The machine's state at simulated time ``t`` (taken every few simulated seconds).

    ``backlog_files``/``backlog_bytes``: completed capture files not yet uploaded (the live
    ``.prog`` files are not counted). ``uploaded_files_total``: files acknowledged so far.
    """

    t: float
    backlog_files: int
    backlog_bytes: int
    disk_used_bytes: int
    disk_total_bytes: int
    uploaded_files_total: int

    @property
    def disk_used_fraction(self) -> float:
        return self.disk_used_bytes / self.disk_total_bytes if self.disk_total_bytes else 1.0


@dataclass(frozen=True, slots=True)
class WorldResult:
    """One run: its trace, how long it ran, the options its seed expanded to, counters, and
    periodic samples.

    ``durability_window_s`` is the promised bound on what a crash may lose (a trace's
    ``world.promise`` events say it for each part of the run instead); ``queue_drain_s``
    is the extra time a reading may spend in a collector's queue before it reaches the file
    (one queue drain), so a crash may also lose readings that young. ``disk_peak_fraction`` is
    the disk's own high water (samples can miss a short peak); ``None``: judge the samples.
    """

    trace: Trace
    sim_seconds: float
    options: dict[str, Any]
    statistics: dict[str, Any]
    samples: list[Sample]
    durability_window_s: float
    queue_drain_s: float = 0.0
    disk_peak_fraction: float | None = None


class WorldRunner(Protocol):
    """``run_world``'s shape: runs ``scenario`` with ``seed``; calls ``progress`` with the
    fraction of simulated time done (0..1) now and then."""

    def __call__(
        self,
        scenario: Scenario,
        *,
        seed: int,
        progress: Callable[[float], None] | None,
    ) -> WorldResult: ...
