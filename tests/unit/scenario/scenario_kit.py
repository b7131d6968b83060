"""Test kit for the scenario package: a toy world and a trace builder.

``ToyWorld`` is a deliberately small model of a data manager that speaks the world's trace
vocabulary: collectors at their configured rates, files closed every few readings and at each
sync pass, a crash that keeps only readings older than the durability window in the open file,
sync passes that upload completed files while the link is up, and the cloud storing each
idempotency key once. ``bugs`` switches on known broken behaviours, so tests can check the
oracle, the runner, the fuzzer and the plugin catch them:

- ``"no_idempotency"``: a resend after an unknown outcome uses a fresh key (duplicates);
- ``"delete_before_ack"``: the file is deleted before its upload is acknowledged (loss);
- ``"forget_prog"``: recovery ignores the open file after a crash (loss beyond the window).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dmsim.faults import FaultStep
from dmsim.runtime import Trace
from dmsim.scenario import Sample, Scenario, WorldResult

READING_BYTES = 200
PER_FILE = 10
DURABILITY_S = 1.0


def digest_of(stream: str, boot: int, seq: int) -> str:
    return hashlib.sha256(f"{stream}/{boot}/{seq}".encode()).hexdigest()


@dataclass
class _File:
    path: str
    ids: list[list[Any]]
    attempts: int = 0


@dataclass
class _State:
    boot: int = 0
    up: bool = True
    seqs: dict[str, int] = field(default_factory=dict)
    open_files: dict[str, list[tuple[list[Any], float]]] = field(default_factory=dict)
    completed: list[_File] = field(default_factory=list)
    stored_keys: set[str] = field(default_factory=set)
    uploaded: int = 0
    file_counter: int = 0
    active: dict[str, FaultStep] = field(default_factory=dict)


class ToyWorld:
    """``ToyWorld(bugs=...)`` is a :class:`dmsim.scenario.WorldRunner`."""

    def __init__(self, *, bugs: Iterable[str] = (), max_hz: float = 5.0) -> None:
        self.bugs = frozenset(bugs)
        self.max_hz = max_hz
        self.calls = 0

    def __call__(
        self, scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None
    ) -> WorldResult:
        self.calls += 1
        return _Run(self, scenario, seed, progress).run()


class _Run:
    def __init__(
        self,
        world: ToyWorld,
        scenario: Scenario,
        seed: int,
        progress: Callable[[float], None] | None,
    ) -> None:
        self.world = world
        self.sc = scenario
        self.seed = seed
        self.progress = progress
        self.now = 0.0
        self.trace = Trace(lambda: self.now)
        self.state = _State()
        self.samples: list[Sample] = []
        self.agenda: list[tuple[float, int, int, Callable[[], None]]] = []
        self.counter = 0
        dm = scenario.machine.data_manager
        self.sync_every = dm.sync_interval_s if dm is not None else 6.0
        self.streams = [
            (f"{m.resource.short_name}/{m.method}/{i}", min(m.capture_frequency_hz, world.max_hz))
            for i, m in enumerate(scenario.machine.capture_methods())
            if m.enabled
        ]

    def at(self, t: float, priority: int, action: Callable[[], None]) -> None:
        if t <= self.sc.duration_s:
            self.counter += 1
            heapq.heappush(self.agenda, (t, priority, self.counter, action))

    def run(self) -> WorldResult:
        for stream, hz in self.streams:
            self.at(1 / hz, 2, lambda s=stream, h=hz: self.capture(s, h))
        self.at(self.sync_every, 3, self.sync_pass)
        self.at(0.0, 4, self.sample)
        for step in self.sc.faults:
            self.at(step.at, 0, lambda s=step: self.fault_start(s))
        while self.agenda:
            t, _, _, action = heapq.heappop(self.agenda)
            self.now = t
            action()
            if self.progress is not None:
                self.progress(t / self.sc.duration_s)
        self.now = self.sc.duration_s
        return WorldResult(
            trace=self.trace,
            sim_seconds=self.sc.duration_s,
            options={"seed": self.seed, "bugs": sorted(self.world.bugs), "per_file": PER_FILE},
            statistics={"uploaded_files": self.state.uploaded},
            samples=self.samples,
            durability_window_s=DURABILITY_S,
        )

    # capture and files
    def capture(self, stream: str, hz: float) -> None:
        st = self.state
        if "crash" in st.active or "clean_restart" in st.active:
            self.at(self.now + 1 / hz, 2, lambda: self.capture(stream, hz))
            return
        seq = st.seqs.get(stream, 0)
        st.seqs[stream] = seq + 1
        self.trace.record(
            "reading.captured",
            stream=stream,
            boot=st.boot,
            seq=seq,
            t_ns=self.sc.epoch_ns + int(self.now * 1e9),
            digest=digest_of(stream, st.boot, seq),
        )
        entries = st.open_files.setdefault(stream, [])
        entries.append(([stream, st.boot, seq], self.now))
        if len(entries) >= PER_FILE:
            self.close(stream)
        self.at(self.now + 1 / hz, 2, lambda: self.capture(stream, hz))

    def close(self, stream: str) -> None:
        st = self.state
        entries = st.open_files.pop(stream, [])
        if not entries:
            return
        st.file_counter += 1
        path = f"/capture/{stream}/{st.file_counter:06d}.capture"
        ids = [rid for rid, _ in entries]
        st.completed.append(_File(path, ids))
        self.trace.record("file.completed", path=path, ids=ids)

    # sync
    def sync_pass(self) -> None:
        self.at(self.now + self.sync_every, 3, self.sync_pass)
        st = self.state
        if "crash" in st.active or "clean_restart" in st.active or not st.up:
            return
        for stream in sorted(st.open_files):
            self.close(stream)
        for file in list(st.completed):
            self.upload(file)

    def upload(self, file: _File) -> None:
        st = self.state
        file.attempts += 1
        key = hashlib.sha256(file.path.encode()).hexdigest()[:16]
        if "no_idempotency" in self.world.bugs:
            key += f"/{file.attempts}"
        if "delete_before_ack" in self.world.bugs:
            self.delete(file)
        reject = st.active.get("rpc_reject")
        if reject is not None:
            self.attempt(file, key, "fail", str(reject.params["code"]))
            return
        if key not in st.stored_keys:
            st.stored_keys.add(key)
            for stream, boot, seq in file.ids:
                self.trace.record(
                    "cloud.stored",
                    stream=stream,
                    boot=boot,
                    seq=seq,
                    key=key,
                    digest=digest_of(stream, boot, seq),
                    duplicate_key=False,
                )
        if "drop_ack_after_commit" in st.active:
            self.attempt(file, key, "unknown", "DEADLINE_EXCEEDED")
            return
        self.attempt(file, key, "ok", "")
        st.uploaded += 1
        if file in st.completed:
            self.delete(file)

    def attempt(self, file: _File, key: str, outcome: str, code: str) -> None:
        self.trace.record(
            "upload.attempt", file=file.path, key=key, rpc="DataCaptureUpload", outcome=outcome,
            code=code,
        )  # fmt: skip

    def delete(self, file: _File) -> None:
        self.state.completed.remove(file)
        self.trace.record("sync.deleted", file=file.path)

    # faults
    def fault_start(self, step: FaultStep) -> None:
        st = self.state
        self.trace.record("fault.start", fault_id=step.fault_id, fault_kind=step.kind)
        st.active[step.kind] = step
        if step.kind == "link_down":
            st.up = False
        if step.kind in ("crash", "clean_restart"):
            self.go_down(crash=step.kind == "crash")
        if step.end > step.at or step.kind in ("crash", "clean_restart"):
            self.at(step.end, 1, lambda: self.fault_end(step))
        else:
            self.fault_end(step)

    def fault_end(self, step: FaultStep) -> None:
        st = self.state
        st.active.pop(step.kind, None)
        if step.kind == "link_down":
            st.up = True
        if step.kind in ("crash", "clean_restart"):
            st.boot += 1
            st.seqs.clear()
            self.trace.record("process.restart", boot=st.boot)
        self.trace.record("fault.end", fault_id=step.fault_id, fault_kind=step.kind)

    def go_down(self, *, crash: bool) -> None:
        st = self.state
        if not crash:
            for stream in sorted(st.open_files):
                self.close(stream)
            return
        self.trace.record("process.crash")
        for stream, entries in sorted(st.open_files.items()):
            kept = [rid for rid, t in entries if t <= self.now - DURABILITY_S]
            if "forget_prog" in self.world.bugs:
                kept = []
            st.file_counter += 1
            path = f"/capture/{stream}/{st.file_counter:06d}.prog"
            if kept:
                self.trace.record(
                    "recovery.torn", path=path, dropped_bytes=READING_BYTES, ids_kept=kept
                )
                st.completed.append(_File(path[: -len(".prog")] + ".capture", kept))
        st.open_files.clear()

    def sample(self) -> None:
        st = self.state
        backlog = len(st.completed)
        used = (backlog * PER_FILE + 5) * READING_BYTES + self.sc.disk.initial_fill_bytes
        self.samples.append(
            Sample(
                t=self.now,
                backlog_files=backlog,
                backlog_bytes=backlog * PER_FILE * READING_BYTES,
                disk_used_bytes=used,
                disk_total_bytes=self.sc.disk.capacity_bytes,
                uploaded_files_total=st.uploaded,
            )
        )
        self.at(self.now + self.sc.sample_every_s, 4, self.sample)


class TraceBuilder:
    """Hand-written traces for oracle tests: ``tb.at(1.0).captured("s", 0, 0)``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.trace = Trace(lambda: self.now)

    def at(self, t: float) -> TraceBuilder:
        self.now = t
        return self

    def captured(self, stream: str, boot: int, seq: int, digest: str | None = None) -> TraceBuilder:
        self.trace.record(
            "reading.captured",
            stream=stream,
            boot=boot,
            seq=seq,
            t_ns=int(self.now * 1e9),
            digest=digest if digest is not None else digest_of(stream, boot, seq),
        )
        return self

    def event(self, kind: str, /, **fields: Any) -> TraceBuilder:
        self.trace.record(kind, **fields)
        return self

    def stored(
        self, stream: str, boot: int, seq: int, key: str, *, digest: str | None = None,
        duplicate_key: bool = False,
    ) -> TraceBuilder:  # fmt: skip
        return self.event(
            "cloud.stored",
            stream=stream,
            boot=boot,
            seq=seq,
            key=key,
            digest=digest if digest is not None else digest_of(stream, boot, seq),
            duplicate_key=duplicate_key,
        )

    def result(
        self,
        *,
        end: float,
        samples: list[Sample] | None = None,
        window: float = 1.0,
    ) -> WorldResult:
        return WorldResult(
            trace=self.trace,
            sim_seconds=end,
            options={},
            statistics={},
            samples=samples or [],
            durability_window_s=window,
        )
