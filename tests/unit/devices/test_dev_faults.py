"""Device faults, bad params and statistics on simulated devices."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.devices.devsim import MACHINE, PARAMS, Sim

from dmsim.devices import (
    FAULT_KINDS,
    METHODS_BY_TYPE,
    BinaryReading,
    DeviceDisconnected,
    DeviceParamError,
    DeviceReadError,
    DeviceUnavailable,
    SimResourceSpec,
    TabularReading,
)
from dmsim.errors import DeviceError, ScenarioError
from dmsim.runtime import ProcessKilled


def payload(result: Any) -> Any:
    reading = result.readings[0]
    return reading.payload if isinstance(reading, BinaryReading) else reading.data


def test_read_error_raises_until_cleared_and_is_traced() -> None:
    sim = Sim()
    dev = sim["tmp36"]

    async def main(rt: Any) -> list[str]:
        log = []
        dev.inject_fault("read_error", fault_id="f1")
        with pytest.raises(DeviceReadError, match=r"read failed \[fault f1\]") as info:
            await dev.capture("Readings", {})
        assert info.value.fault_id == "f1"
        await rt.sleep(1)
        assert dev.clear_fault("f1") is True
        assert dev.clear_fault("f1") is False
        await dev.capture("Readings", {})
        log.append("ok")
        return log

    assert sim.run(main) == ["ok"]
    events = [
        (e.fields["action"], e.fields["fault_id"], e.time)
        for e in sim.trace.of_kind("device.fault")
    ]
    assert events == [("inject", "f1", 0.0), ("clear", "f1", 1.0)]
    stats = dev.statistics()
    assert (stats.captures, stats.ok, dict(stats.errors)) == (2, 1, {"read_error": 1})
    assert (stats.faults_injected, stats.faults_active) == (1, 0)


def test_a_read_error_on_one_method_leaves_the_others_working() -> None:
    # Regression: a scenario's device_read_error with `method` broke every method.
    sim = Sim()
    dev = sim["imu-1"]

    async def main(rt: Any) -> None:
        dev.inject_fault("read_error", fault_id="acc", method="LinearAcceleration")
        with pytest.raises(DeviceReadError, match=r"\[fault acc\]"):
            await dev.capture("LinearAcceleration", {})
        await dev.capture("AngularVelocity", {})

    sim.run(main)
    [event] = sim.trace.of_kind("device.fault")
    assert event.fields["method"] == "LinearAcceleration"


def test_a_fault_with_until_ends_by_itself() -> None:
    sim = Sim()
    dev = sim["arm-1"]

    async def main(rt: Any) -> list[str]:
        dev.inject_fault("disconnect", fault_id="unplug", until=5.0)
        outcomes = []
        for t in (1.0, 4.999, 5.0, 6.0):
            await rt.sleep_until(t)
            try:
                await dev.capture("JointPositions", {})
                outcomes.append("ok")
            except DeviceDisconnected:
                outcomes.append("disconnected")
        return outcomes

    assert sim.run(main) == ["disconnected", "disconnected", "ok", "ok"]
    expire = sim.trace.of_kind("device.fault")[-1]
    assert (expire.fields["action"], expire.fields["until"]) == ("expire", 5.0)


def test_disconnect_lasts_until_reconnect() -> None:
    sim = Sim()
    dev = sim["my-esp32"]

    async def main(rt: Any) -> int:
        dev.inject_fault("disconnect", fault_id="d1")
        for _ in range(3):
            with pytest.raises(DeviceDisconnected):
                await dev.capture("Analogs", {"reader_name": "A1"})
            await rt.sleep(10)
        dev.reconnect()
        result = await dev.capture("Analogs", {"reader_name": "A1"})
        return int(payload(result)["value"])

    assert 0 <= sim.run(main) <= 4095
    assert dev.statistics().errors == {"disconnected": 3}
    assert sim.trace.of_kind("device.fault")[-1].fields["reason"] == "reconnect"


def test_timeout_hangs_until_the_collector_gives_up() -> None:
    sim = Sim()
    dev = sim["servo-1"]

    async def main(rt: Any) -> list[Any]:
        dev.inject_fault("timeout", fault_id="t1")
        log: list[Any] = []
        try:
            await rt.with_timeout(2.0, dev.capture("Position", {}))
        except TimeoutError:
            log.append(("timed out at", rt.monotonic()))
        dev.clear_fault("t1")
        await dev.capture("Position", {})
        log.append("ok")
        return log

    assert sim.run(main) == [("timed out at", 2.0), "ok"]
    stats = dev.statistics()
    assert (stats.hangs, stats.captures, stats.ok) == (1, 2, 1)


def test_timeout_with_until_completes_late() -> None:
    sim = Sim()
    dev = sim["servo-1"]

    async def main(rt: Any) -> tuple[float, int, int]:
        dev.inject_fault("timeout", fault_id="t2", until=3.5)
        result = await dev.capture("Position", {})
        return rt.monotonic(), result.time_requested_ns, result.time_received_ns

    now, requested, received = sim.run(main)
    assert now == pytest.approx(3.5)
    assert received - requested == pytest.approx(3.5e9, abs=1)


def test_a_hung_capture_resumes_when_the_fault_is_cleared() -> None:
    sim = Sim()
    dev = sim["gantry-1"]

    async def main(rt: Any) -> float:
        dev.inject_fault("timeout", fault_id="t3")

        async def clear_later() -> None:
            await rt.sleep(1.25)
            dev.clear_fault("t3")

        rt.spawn(clear_later(), name="clear")
        await dev.capture("Position", {})
        return float(rt.monotonic())

    assert sim.run(main) == 1.25


def test_a_disconnect_during_a_hang_fails_the_capture() -> None:
    sim = Sim()
    dev = sim["gantry-1"]

    async def main(rt: Any) -> float:
        dev.inject_fault("timeout", fault_id="t4")

        async def unplug_later() -> None:
            await rt.sleep(0.5)
            dev.inject_fault("disconnect", fault_id="d4")

        rt.spawn(unplug_later(), name="unplug")
        with pytest.raises(DeviceDisconnected):
            await dev.capture("Position", {})
        return float(rt.monotonic())

    assert sim.run(main) == 0.5


def test_stuck_returns_the_last_value_with_fresh_timestamps() -> None:
    sim = Sim()
    dev = sim["cam"]

    async def main(rt: Any) -> list[Any]:
        first = await dev.capture("ReadImage", {"mime_type": "image/jpeg"})
        dev.inject_fault("stuck", fault_id="s1")
        await rt.sleep(2)
        stuck = await dev.capture("ReadImage", {"mime_type": "image/jpeg"})
        png = await dev.capture("ReadImage", {"mime_type": "image/png"})  # nothing to repeat yet
        await rt.sleep(2)
        png_again = await dev.capture("ReadImage", {"mime_type": "image/png"})
        dev.clear_fault("s1")
        fresh = await dev.capture("ReadImage", {"mime_type": "image/jpeg"})
        return [first, stuck, png, png_again, fresh]

    first, stuck, png, png_again, fresh = sim.run(main)
    assert payload(stuck) == payload(first)
    assert stuck.time_requested_ns == first.time_requested_ns + 2_000_000_000
    assert payload(png_again) == payload(png)
    assert payload(fresh) != payload(first)
    assert dev.statistics().stuck == 2


def test_disconnect_wins_over_other_faults() -> None:
    sim = Sim()
    dev = sim["fake-1"]

    async def main(rt: Any) -> None:
        for kind in FAULT_KINDS[::-1]:
            dev.inject_fault(kind, fault_id=kind)
        with pytest.raises(DeviceDisconnected):
            await dev.capture("Readings", {})
        dev.clear_fault("disconnect")
        with pytest.raises(DeviceReadError):
            await dev.capture("Readings", {})

    sim.run(main)


@pytest.mark.parametrize(
    ("kind", "fault_id", "until", "message"),
    [
        ("melt", "x", None, "unknown device fault 'melt'"),
        ("stuck", "", None, "non-empty fault_id"),
        ("stuck", "dup", None, "already active"),
        ("stuck", "late", -1.0, "not after now"),
    ],
)
def test_bad_fault_requests_are_scenario_errors(
    kind: str, fault_id: str, until: float | None, message: str
) -> None:
    dev = Sim()["fake-1"]
    dev.inject_fault("stuck", fault_id="dup")
    with pytest.raises(ScenarioError, match=message):
        dev.inject_fault(kind, fault_id=fault_id, until=until)


@pytest.mark.parametrize(
    ("name", "method", "params", "message"),
    [
        ("arm-1", "GetImages", {}, "method 'GetImages' is not supported"),
        ("my-esp32", "Analogs", {}, "additional_params.reader_name is required"),
        ("my-esp32", "Analogs", {"reader_name": "A9"}, "no analog reader 'A9' \\(have A1, A2\\)"),
        ("my-esp32", "Analogs", {"reader_name": 34}, "reader_name must be a string"),
        ("my-esp32", "Gpios", {"pin_name": "4"}, "no GPIO pin '4'"),
        ("cam", "ReadImage", {"mime_type": "image/gif"}, "mime_type 'image/gif' is not supported"),
        ("vision-1", "CaptureAllFromCamera", {}, "camera_name is required"),
        ("vision-1", "CaptureAllFromCamera", {"camera_name": "nope"}, "names no camera"),
        ("vision-1", "CaptureAllFromCamera", {"camera_name": "arm-1"}, "not a camera"),
        (
            "vision-1",
            "CaptureAllFromCamera",
            {"camera_name": "cam", "min_confidence_score": "1.5"},
            r"must be in \[0.0, 1.0\]",
        ),
        (
            "vision-1",
            "CaptureAllFromCamera",
            {"camera_name": "cam", "min_confidence_score": "high"},
            "is not a number",
        ),
    ],
)
def test_bad_params_raise_a_clear_device_param_error(
    name: str, method: str, params: dict[str, str], message: str
) -> None:
    sim = Sim()

    async def main(rt: Any) -> None:
        with pytest.raises(DeviceParamError, match=message):
            await sim[name].capture(method, params)

    sim.run(main)
    assert sim[name].statistics().errors == {"bad_params": 1}


def test_a_board_reads_the_gpio_of_a_digital_interrupt_pin() -> None:
    # As micro-RDK's ESP32, which registers each digital interrupt's pin as a GPIO.
    attributes = {"pins": [27], "digital_interrupts": [{"pin": 4}]}
    sim = Sim(specs=(SimResourceSpec("board", "my-esp32", "esp32", attributes),))
    [result] = sim.capture_at("my-esp32", "Gpios", [1.0], {"pin_name": "4"})
    [reading] = result.readings
    assert isinstance(reading, TabularReading)
    assert isinstance(reading.data["high"], bool)


ALL_METHODS = sorted({m for methods in METHODS_BY_TYPE.values() for m in methods})


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from([spec.name for spec in MACHINE]),
    method=st.sampled_from(ALL_METHODS),
    params=st.dictionaries(
        st.sampled_from(
            ["reader_name", "pin_name", "mime_type", "camera_name", "min_confidence_score", "x"]
        ),
        st.one_of(
            st.text(max_size=8), st.sampled_from(["A1", "27", "image/png", "cam", "0.2", "nan"])
        ),
        max_size=4,
    ),
)
def test_any_params_give_a_reading_or_a_device_error(
    name: str, method: str, params: dict[str, str]
) -> None:
    sim = Sim()

    async def main(rt: Any) -> None:
        with contextlib.suppress(DeviceError):
            await sim[name].capture(method, params)

    sim.run(main)


def test_vision_passes_camera_faults_through() -> None:
    sim = Sim()

    async def main(rt: Any) -> None:
        sim["cam"].inject_fault("read_error", fault_id="cam-broken")
        with pytest.raises(DeviceReadError, match="cam-broken"):
            await sim["vision-1"].capture("CaptureAllFromCamera", PARAMS["CaptureAllFromCamera"])

    sim.run(main)
    assert sim["vision-1"].statistics().errors == {"read_error": 1}
    assert sim["cam"].statistics().errors == {"read_error": 1}


def test_a_closed_device_is_unavailable() -> None:
    sim = Sim()

    async def main(rt: Any) -> None:
        await sim["servo-1"].close()
        with pytest.raises(DeviceUnavailable, match="closed"):
            await sim["servo-1"].capture("Position", {})

    sim.run(main)


def test_rebind_serves_a_restarted_process_with_faults_kept() -> None:
    sim = Sim()
    dev = sim["fake-1"]

    async def crash(rt: Any) -> None:
        dev.inject_fault("timeout", fault_id="slow", until=5.0)
        await rt.sleep(1)

    sim.run(crash)
    sim.rt.kill()
    restarted = sim.kernel.process("machine-2")

    async def capture() -> float | str:
        try:
            await dev.capture("Readings", {})
        except ProcessKilled:
            return "waited on the dead process"
        return restarted.monotonic()

    before = restarted.kernel.run_main(capture(), name="before-rebind")
    assert before == "waited on the dead process"
    dev.rebind(restarted)
    assert restarted.kernel.run_main(capture(), name="after-rebind") == 5.0
    assert dev.statistics().faults_injected == 1


def test_cancelling_a_hung_capture_leaves_the_device_usable() -> None:
    sim = Sim()
    dev = sim["servo-1"]

    async def main(rt: Any) -> str:
        dev.inject_fault("timeout", fault_id="t")
        task = rt.spawn(dev.capture("Position", {}), name="hung")
        await rt.sleep(1)
        await task.stop()
        with pytest.raises(asyncio.CancelledError):
            await task.join()
        dev.clear_fault("t")
        await dev.capture("Position", {})
        return "ok"

    assert sim.run(main) == "ok"
