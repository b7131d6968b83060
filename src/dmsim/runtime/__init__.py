"""The runtime port (time, waiting, concurrency), its simulated and real sides, the seeded
RNG tree and the trace recorder."""

from ._port import Clocks, Event, ProcessKilled, Queue, QueueEmpty, QueueFull, Runtime, Task
from ._real import RealRuntime
from ._rng import RngTree
from ._sim import SimKernel, SimRuntime
from ._trace import Divergence, Trace, TraceEvent

__all__ = [
    "Clocks",
    "Divergence",
    "Event",
    "ProcessKilled",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "RealRuntime",
    "RngTree",
    "Runtime",
    "SimKernel",
    "SimRuntime",
    "Task",
    "Trace",
    "TraceEvent",
]
