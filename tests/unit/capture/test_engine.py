"""Capture engine: one collector per (resource, method, params); reconfigure without losses."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from tests.unit.capture.fakes import Device, Sink

from dmsim.capture._engine import CaptureEngine, stream_id
from dmsim.config import CollectorSpec, ResourceRef
from dmsim.runtime import SimKernel, Trace


def spec(api: str, name: str, method: str, hz: float, **params: str) -> CollectorSpec:
    binary = method in {"NextPointCloud", "ReadImage"}
    return CollectorSpec(
        resource=ResourceRef(api=api, name=name),
        method=method,
        additional_params=MappingProxyType(params),
        capture_type="binary" if binary else "tabular",
        capture_frequency_hz=hz,
        capture_queue_size=250,
        capture_buffer_size=4096,
        cache_size_kb=1.0,
        tags=(),
        mime_type="pointcloud/pcd" if binary else "",
        file_extension=".pcd" if binary else ".dat",
        retention_policy=None,
        config_path="test",
    )


CAMERA = ("rdk:component:camera", "camera-3d")
ARM = ("rdk:component:arm", "arm")


def make_engine(kernel: SimKernel) -> tuple[CaptureEngine, dict[str, Sink], Trace]:
    rt = kernel.process("core")
    trace = Trace(kernel.now)
    devices = {CAMERA: Device(rt), ARM: Device(rt)}
    sinks: dict[str, Sink] = {}

    def make_sink(s: CollectorSpec) -> Sink:
        sinks[stream_id(s)] = Sink(rt)
        return sinks[stream_id(s)]

    engine = CaptureEngine(
        rt=rt,
        boot=0,
        resolve=lambda api, name: devices.get((api, name)),
        make_sink=make_sink,
        durability_window_s=1.0,
        trace=trace,
    )
    return engine, sinks, trace


def test_tomato_robot_rates_change_in_place_without_restarts() -> None:
    kernel = SimKernel(epoch_ns=0)
    engine, sinks, trace = make_engine(kernel)
    initial = [spec(*CAMERA, "NextPointCloud", 30), spec(*ARM, "JointPositions", 1)]
    kernel.run_main(engine.apply(initial))
    kernel.run(until=60.0)
    kernel.run_main(
        engine.apply([spec(*CAMERA, "NextPointCloud", 10), spec(*ARM, "JointPositions", 10)])
    )
    kernel.run(until=120.0)
    kernel.run_main(engine.close())
    assert [e.kind for e in trace.of_kind("capture.started", "capture.stopped")] == [
        "capture.started",
        "capture.started",
        "capture.stopped",
        "capture.stopped",
    ]
    assert len(trace.of_kind("capture.rate_changed")) == 2
    by_stream = {s.stream: s for s in engine.statistics()}
    cam = by_stream["rdk:component:camera/camera-3d/NextPointCloud"]
    arm = by_stream["rdk:component:arm/arm/JointPositions"]
    assert abs(cam.captured - (60 * 30 + 60 * 10)) <= 2
    assert abs(arm.captured - (60 * 1 + 60 * 10)) <= 2
    for stats in (cam, arm):
        assert stats.skipped_total == 0
        assert stats.written == stats.captured  # nothing lost across the reconfigure
    assert len(sinks) == 2  # one sink (file stream) per collector, never re-created


def test_unrelated_reconfigure_leaves_collectors_untouched() -> None:
    kernel = SimKernel(epoch_ns=0)
    engine, _, trace = make_engine(kernel)
    specs = [spec(*ARM, "JointPositions", 1), spec(*ARM, "EndPosition", 2)]
    kernel.run_main(engine.apply(specs))
    kernel.run(until=10.0)
    kernel.run_main(engine.apply(list(reversed(specs))))
    assert len(trace.of_kind("capture.started")) == 2
    assert not trace.of_kind("capture.stopped", "capture.rate_changed")


def test_params_distinguish_collectors_and_tag_changes_restart_after_draining() -> None:
    kernel = SimKernel(epoch_ns=0)
    engine, sinks, trace = make_engine(kernel)
    board = ("rdk:component:board", "my-esp32")
    a1 = spec(*board, "Analogs", 10, reader_name="A1")
    a2 = spec(*board, "Analogs", 10, reader_name="A2")
    devices_rt = kernel.process("devices")
    engine._resolve = lambda api, name: Device(devices_rt)  # type: ignore[method-assign]
    kernel.run_main(engine.apply([a1, a2]))
    kernel.run(until=5.0)
    assert set(sinks) == {
        "rdk:component:board/my-esp32/Analogs?reader_name=A1",
        "rdk:component:board/my-esp32/Analogs?reader_name=A2",
    }
    old = sinks[stream_id(a1)]
    kernel.run_main(engine.apply([replace(a1, tags=("line-3",)), a2]))
    stopped = trace.of_kind("capture.stopped")
    assert [e.fields["stream"] for e in stopped] == [stream_id(a1)]
    assert old.closed
    assert sinks[stream_id(a1)] is not old  # new tags → new files


def test_disabled_and_unresolvable_collectors_do_not_run() -> None:
    kernel = SimKernel(epoch_ns=0)
    engine, sinks, trace = make_engine(kernel)
    kernel.run_main(
        engine.apply(
            [spec(*ARM, "JointPositions", 0), spec("rdk:component:servo", "nope", "Position", 1)]
        )
    )
    assert not sinks
    assert len(trace.of_kind("capture.unresolved")) == 1


def test_a_restarted_collector_continues_its_sequence() -> None:
    """Regression: a collector restarted within one boot (new tags, or disabled and re-enabled)
    started again at seq 0, so two readings shared an identity."""
    kernel = SimKernel(epoch_ns=0)
    engine, _, trace = make_engine(kernel)
    arm = spec(*ARM, "JointPositions", 10)
    kernel.run_main(engine.apply([arm]))
    kernel.run(until=5.0)
    kernel.run_main(engine.apply([replace(arm, tags=("shift-b",))]))
    kernel.run(until=10.0)
    kernel.run_main(engine.apply([]))
    kernel.run_main(engine.apply([arm]))
    kernel.run(until=15.0)
    kernel.run_main(engine.close())
    seqs = [e.fields["seq"] for e in trace.of_kind("reading.captured")]
    assert len(trace.of_kind("capture.started")) == 3
    assert seqs == list(range(len(seqs)))


def test_flush_while_a_reconfigure_changes_the_collectors() -> None:
    """Regression: flush() iterated the live collector dict across awaits; a reconfigure
    running at the same time made it raise 'dictionary changed size during iteration'."""
    kernel = SimKernel(epoch_ns=0)
    engine, sinks, _ = make_engine(kernel)
    arm = spec(*ARM, "JointPositions", 10)
    kernel.run_main(engine.apply([arm, spec(*CAMERA, "NextPointCloud", 10)]))
    sinks[stream_id(arm)].broken_until = 3.0  # the arm's flush has to wait for its disk
    kernel.run(until=2.0)

    async def both() -> None:
        rt = engine._rt
        flushing = rt.spawn(engine.flush(), name="flush")
        await rt.sleep(0.1)  # the flush is now waiting for the arm's disk
        await engine.apply([arm])  # retires the camera while the flush is under way
        await flushing.join()

    kernel.run_main(both())


def test_a_retire_cut_short_by_a_cancel_still_keeps_the_sequence() -> None:
    """A task applying specs can be cancelled while a retired collector drains (its disk
    failing); the stream's next seq must still be kept, or starting it again within the
    boot reuses reading identities."""
    kernel = SimKernel(epoch_ns=0)
    engine, sinks, trace = make_engine(kernel)
    arm = spec(*ARM, "JointPositions", 10)
    kernel.run_main(engine.apply([arm]))
    sinks[stream_id(arm)].broken_until = 8.0  # its queue cannot drain until then
    kernel.run(until=5.0)

    async def cancelled_retire() -> None:
        rt = engine._rt
        retiring = rt.spawn(engine.apply([]), name="apply")
        await rt.sleep(0.5)  # the retire is waiting for the drain
        await retiring.stop()

    kernel.run_main(cancelled_retire())
    kernel.run_main(engine.apply([arm]))
    kernel.run(until=12.0)
    kernel.run_main(engine.close())
    seqs = [e.fields["seq"] for e in trace.of_kind("reading.captured")]
    assert len(seqs) == len(set(seqs))


def test_a_collector_retired_while_its_disk_fails_drains_when_the_disk_recovers() -> None:
    """Regression (found by `dmsim fuzz` on capture-on-demand: EIO on half the writes for
    150 s, and a tag change from the capture control sensor): a retire waited at most 60 s for
    the old collector's queue, then dropped what was still in it, and the stream's new
    collector did not start until then. A retire now stops capture at once, the new collector
    starts, and the old queue drains whenever its disk recovers."""
    kernel = SimKernel(epoch_ns=0)
    engine, sinks, trace = make_engine(kernel)
    arm = spec(*ARM, "JointPositions", 10)
    kernel.run_main(engine.apply([arm]))
    kernel.run(until=5.0)
    old = sinks[stream_id(arm)]
    old.broken_until = 200.0  # longer than any drain deadline
    kernel.run(until=10.0)
    kernel.run_main(engine.apply([replace(arm, tags=("shift-b",))]))
    restarted = trace.of_kind("capture.started")[-1]
    assert restarted.time < 10.5  # no capture gap while the old queue waits for its disk
    assert len(sinks) == 1
    assert sinks[stream_id(arm)] is not old  # the new collector has its own sink
    new = sinks[stream_id(arm)]
    kernel.run(until=250.0)
    assert old.closed  # drained and completed once the disk came back
    kernel.run_main(engine.close())
    assert trace.of_kind("reading.dropped") == []
    captured = [e.fields["seq"] for e in trace.of_kind("reading.captured")]
    written = [r.seq for r in old.written] + [r.seq for r in new.written]
    assert sorted(written) == captured
    assert max(r.seq for r in old.written) < min(r.seq for r in new.written)
    by_stream = [s for s in engine.statistics() if s.stream == stream_id(arm)]
    assert sum(s.written for s in by_stream) == len(captured)


def test_shutdown_gives_a_retired_collector_one_minute_then_reports_what_it_drops() -> None:
    kernel = SimKernel(epoch_ns=0)
    engine, sinks, trace = make_engine(kernel)
    arm = spec(*ARM, "JointPositions", 10)
    kernel.run_main(engine.apply([arm]))
    kernel.run(until=5.0)
    sinks[stream_id(arm)].broken_until = 1000.0  # never back within the shutdown's wait
    kernel.run(until=10.0)
    kernel.run_main(engine.apply([replace(arm, tags=("shift-b",))]))
    kernel.run(until=20.0)
    kernel.run_main(engine.close())
    assert 79.0 <= kernel.now() <= 81.5  # one minute's wait from the close at 20 s
    dropped = [seq for e in trace.of_kind("reading.dropped") for _, _, seq in e.fields["ids"]]
    captured_at = {e.fields["seq"]: e.time for e in trace.of_kind("reading.captured")}
    assert dropped
    assert all(captured_at[seq] >= 5.0 for seq in dropped)  # queued since the disk broke
    stats = engine.statistics()
    assert sum(s.dropped for s in stats) == len(dropped)
    assert [e.kind for e in trace.of_kind("capture.started", "capture.stopped")].count(
        "capture.stopped"
    ) == 2


def test_a_paused_resource_is_not_read_until_resumed_and_its_stream_continues() -> None:
    """A device being closed and rebuilt (a reload that changed its attributes) must not be
    read meanwhile, whatever asks for the collectors again (a control sensor's override, a
    reconfigure); its queue is on disk before the device closes, and after it the stream goes
    on where it stopped."""
    kernel = SimKernel(epoch_ns=0)
    engine, sinks, trace = make_engine(kernel)
    arm, camera = spec(*ARM, "JointPositions", 10), spec(*CAMERA, "NextPointCloud", 10)
    kernel.run_main(engine.apply([arm, camera]))
    kernel.run(until=5.0)
    kernel.run_main(engine.pause([ARM]))
    paused_at = kernel.now()
    old = sinks[stream_id(arm)]
    assert old.closed  # drained and completed before pause returns
    kernel.run(until=7.0)
    kernel.run_main(engine.apply([replace(arm, capture_frequency_hz=20), camera]))
    kernel.run(until=10.0)
    kernel.run_main(engine.resume())
    resumed_at = kernel.now()
    kernel.run(until=15.0)
    kernel.run_main(engine.close())

    def captured(stream: str) -> list[tuple[float, int]]:
        return [
            (e.time, e.fields["seq"])
            for e in trace.of_kind("reading.captured")
            if e.fields["stream"] == stream
        ]

    arm_readings = captured(stream_id(arm))
    assert not [t for t, _ in arm_readings if paused_at < t < resumed_at]
    assert [seq for _, seq in arm_readings] == list(range(len(arm_readings)))
    after = [t for t, _ in arm_readings if t >= resumed_at]
    assert 95 <= len(after) <= 101  # resumed with the spec applied while paused: 20 Hz
    camera_times = [t for t, _ in captured(stream_id(camera))]
    assert abs(len(camera_times) - 150) <= 1  # the camera was never stopped
    assert len(trace.of_kind("capture.started")) == 3
