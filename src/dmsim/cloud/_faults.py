"""RPC-level faults of the fake cloud: a plan of scheduled or triggered faults, and the pure
decision of what to do with one call. Each side enacts the decision its own way — the gRPC
server on real sockets, the simulated transport on simulated time.

Fault kinds (Toxiproxy-style names for protocol faults Toxiproxy cannot express):

============== =============================================================================
``reject``     answer with gRPC status ``code`` (UNAVAILABLE, RESOURCE_EXHAUSTED,
               UNAUTHENTICATED, INTERNAL …); nothing is stored
``storage_full`` refuse new data with RESOURCE_EXHAUSTED; a key already stored is still
               acknowledged (the data is there)
``drop_ack``   commit, then drop the acknowledgement (the client sees the call die: the
               upload's outcome is *unknown* to it although the cloud has it)
``slow_ack``   commit, then wait ``seconds`` before acknowledging
``stall``      after ``after_bytes`` bytes of the request, stop reading for ``seconds``
               (0 = until the client gives up), then carry on
``restart``    after ``after_bytes`` bytes (with ``commit``: after committing the upload),
               the cloud process dies; whoever supervises it restarts it
============== =============================================================================

A fault applies to the RPCs in ``rpcs`` (empty = all), inside the window ``start <= now <
end`` (either bound optional; seconds on the clock the enactor passes to :meth:`decide`), to
at most ``count`` calls (``None`` = every matching call). When several faults match a call, the
first added wins. Every decision — a fault or ``pass`` — opens an entry in the upload
timeline; the enactor closes it with the outcome, Jepsen-style — what the cloud did, per call:
``ok`` / ``duplicate`` (committed / already had it, and acknowledged), ``error:CODE`` (not
committed), ``dropped`` (committed, acknowledgement dropped by the fault), ``crashed`` (the
cloud died: committed only if the fault said so), ``cancelled`` (the client gave up before a
commit), ``cancelled-after-commit`` (committed, the client gave up before the ack).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from dmsim.errors import Problem, ScenarioError

__all__ = [
    "FAULT_KINDS",
    "GRPC_ERROR_CODES",
    "RPC_NAMES",
    "FaultAction",
    "FaultKind",
    "FaultPlanStatistics",
    "FaultStatus",
    "RpcFault",
    "RpcFaultPlan",
    "TimelineEntry",
]

FaultKind = Literal["reject", "storage_full", "drop_ack", "slow_ack", "stall", "restart"]
FAULT_KINDS: tuple[str, ...] = (
    "reject",
    "storage_full",
    "drop_ack",
    "slow_ack",
    "stall",
    "restart",
)
RPC_NAMES: tuple[str, ...] = (
    "DataCaptureUpload", "FileUpload", "StreamingDataCaptureUpload", "CreateSequence",
)  # fmt: skip
#: gRPC status names a ``reject`` fault may answer with (every status but OK).
GRPC_ERROR_CODES: tuple[str, ...] = (
    "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RpcFault:
    fault_id: str
    kind: FaultKind
    rpcs: frozenset[str] = frozenset()
    code: str = "UNAVAILABLE"
    seconds: float = 0.0
    after_bytes: int = 0
    commit: bool = False
    start: float | None = None
    end: float | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        where = f"fault[{self.fault_id}]" if self.fault_id else "fault"
        problems = []
        if not self.fault_id:
            problems.append(Problem(f"{where}.fault_id", "empty"))
        if self.kind not in FAULT_KINDS:
            problems.append(Problem(f"{where}.kind", f"{self.kind!r} is not one of {FAULT_KINDS}"))
        for rpc in sorted(self.rpcs - set(RPC_NAMES)):
            problems.append(Problem(f"{where}.rpcs", f"unknown RPC {rpc!r}"))
        if self.code not in GRPC_ERROR_CODES:
            problems.append(Problem(f"{where}.code", f"{self.code!r} is not a gRPC error code"))
        # A non-finite time would also make the fault list non-standard JSON (Infinity, NaN).
        for name in ("seconds", "start", "end"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                problems.append(Problem(f"{where}.{name}", f"must be finite, got {value}"))
        if self.seconds < 0:
            problems.append(Problem(f"{where}.seconds", f"must be ≥ 0, got {self.seconds}"))
        if self.after_bytes < 0:
            problems.append(Problem(f"{where}.after_bytes", f"must be ≥ 0, got {self.after_bytes}"))
        if self.count is not None and self.count < 1:
            problems.append(Problem(f"{where}.count", f"must be ≥ 1, got {self.count}"))
        if self.start is not None and self.end is not None and self.end <= self.start:
            problems.append(Problem(f"{where}.end", f"{self.end} is not after start {self.start}"))
        if problems:
            raise ScenarioError(problems, source="rpc fault")

    def applies(self, rpc: str, now: float) -> bool:
        return (
            (not self.rpcs or rpc in self.rpcs)
            and (self.start is None or now >= self.start)
            and (self.end is None or now < self.end)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "fault_id": self.fault_id,
            "kind": self.kind,
            "rpcs": sorted(self.rpcs),
            "code": self.code,
            "seconds": self.seconds,
            "after_bytes": self.after_bytes,
            "commit": self.commit,
            "start": self.start,
            "end": self.end,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, path: str = "fault") -> RpcFault:
        """Parse the JSON form (the HTTP API and scenario files); errors name the field."""
        if not isinstance(obj, Mapping):
            raise ScenarioError(Problem(path, "must be a JSON object"), source="rpc fault")
        types: dict[str, tuple[type, ...]] = {
            "fault_id": (str,), "kind": (str,), "rpcs": (list,), "code": (str,),
            "seconds": (int, float), "after_bytes": (int,), "commit": (bool,),
            "start": (int, float), "end": (int, float), "count": (int,),
        }  # fmt: skip
        problems = [Problem(f"{path}.{k}", "unknown field") for k in sorted(set(obj) - set(types))]
        problems += [
            Problem(f"{path}.{k}", "required") for k in ("fault_id", "kind") if k not in obj
        ]
        for key, value in obj.items():
            allowed = types.get(key)
            if allowed is None or (value is None and key in ("start", "end", "count")):
                continue
            bad_bool = isinstance(value, bool) and bool not in allowed
            if bad_bool or not isinstance(value, allowed):
                names = " or ".join(t.__name__ for t in allowed)
                problems.append(Problem(f"{path}.{key}", f"must be {names}, got {value!r}"))
        if problems:
            raise ScenarioError(problems, source="rpc fault")
        fields = dict(obj)
        fields["rpcs"] = frozenset(str(r) for r in fields.get("rpcs", ()))
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class FaultAction:
    """What the enactor must do with one call. ``kind == "pass"``: no fault."""

    call_id: int
    kind: Literal["pass", "reject", "storage_full", "drop_ack", "slow_ack", "stall", "restart"]
    fault_id: str | None = None
    code: str = ""
    seconds: float = 0.0
    after_bytes: int = 0
    commit: bool = False

    @property
    def message(self) -> str:
        return f"injected fault {self.fault_id} ({self.kind})"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    call_id: int
    time: float
    rpc: str
    key: str | None
    decision: str
    fault_id: str | None
    outcome: str = "pending"
    finished: float | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in self.__slots__}


@dataclass(frozen=True, slots=True)
class FaultStatus:
    fault: RpcFault
    remaining: int | None
    fired: int


@dataclass(frozen=True, slots=True)
class FaultPlanStatistics:
    calls: int
    passed: int
    fired: Mapping[str, int]


class RpcFaultPlan:
    """The faults in force and the timeline of decisions; owned by one cloud."""

    def __init__(self, faults: Iterable[RpcFault] = (), *, timeline_limit: int = 100_000) -> None:
        self._faults: dict[str, RpcFault] = {}
        self._remaining: dict[str, int | None] = {}
        self._fired: Counter[str] = Counter()
        self._timeline: OrderedDict[int, TimelineEntry] = OrderedDict()
        self._timeline_limit = timeline_limit
        self._calls = 0
        for fault in faults:
            self.add(fault)

    def add(self, fault: RpcFault) -> None:
        if fault.fault_id in self._faults:
            raise ScenarioError(
                Problem(f"fault[{fault.fault_id}].fault_id", "already in the plan"),
                source="rpc fault",
            )
        self._faults[fault.fault_id] = fault
        self._remaining[fault.fault_id] = fault.count

    def remove(self, fault_id: str) -> bool:
        self._remaining.pop(fault_id, None)
        return self._faults.pop(fault_id, None) is not None

    def clear(self) -> int:
        removed = len(self._faults)
        self._faults.clear()
        self._remaining.clear()
        return removed

    def faults(self) -> list[FaultStatus]:
        return [
            FaultStatus(f, self._remaining[f.fault_id], self._fired[f.fault_id])
            for f in self._faults.values()
        ]

    def decide(self, rpc: str, now: float, *, key: str | None = None) -> FaultAction:
        """The action for one call starting at ``now``; consumes one use of the fault."""
        self._calls += 1
        call_id = self._calls
        action = FaultAction(call_id, "pass")
        for fault in self._faults.values():
            remaining = self._remaining[fault.fault_id]
            if remaining == 0 or not fault.applies(rpc, now):
                continue
            if remaining is not None:
                self._remaining[fault.fault_id] = remaining - 1
            self._fired[fault.fault_id] += 1
            action = FaultAction(
                call_id, fault.kind, fault.fault_id, fault.code if fault.kind == "reject" else "",
                fault.seconds, fault.after_bytes, fault.commit,
            )  # fmt: skip
            break
        self._timeline[call_id] = TimelineEntry(
            call_id, now, rpc, key, action.kind, action.fault_id
        )
        while len(self._timeline) > self._timeline_limit:
            self._timeline.popitem(last=False)
        return action

    def finish(self, action: FaultAction, outcome: str, now: float, *, detail: str = "") -> None:
        """Record how the call decided by ``action`` ended."""
        entry = self._timeline.get(action.call_id)
        if entry is not None:
            self._timeline[action.call_id] = replace(
                entry, outcome=outcome, finished=now, detail=detail
            )

    def timeline(self, *, after_call: int = 0) -> list[TimelineEntry]:
        """Entries of calls after ``after_call`` (to poll for new ones), oldest first."""
        return [entry for call_id, entry in self._timeline.items() if call_id > after_call]

    def statistics(self) -> FaultPlanStatistics:
        fired = sum(self._fired.values())
        return FaultPlanStatistics(
            self._calls, self._calls - fired, dict(sorted(self._fired.items()))
        )
