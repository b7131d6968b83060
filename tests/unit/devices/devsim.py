"""Helpers for the device tests: build simulated resources and drive them on simulated time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from dmsim.devices import PayloadOptions, SimDevice, SimResourceSpec, build_sim_resources
from dmsim.runtime import RngTree, SimKernel, SimRuntime, Trace

T = TypeVar("T")
EPOCH_NS = 1_700_000_000 * 10**9

# One of every type, with the documents' model names and attributes.
MACHINE = (
    SimResourceSpec("arm", "arm-1", "ur5e"),
    SimResourceSpec(
        "board",
        "my-esp32",
        "esp32",
        {"pins": [27], "analogs": [{"pin": "34", "name": "A1"}, {"pin": "35", "name": "A2"}]},
    ),
    SimResourceSpec("camera", "cam", "webcam"),
    SimResourceSpec("camera", "inspection-cam", "webcam", {"scene": "inspection"}),
    SimResourceSpec("motor", "motor-1", "gpio", {"encoder": "enc-1", "ticks_per_rotation": 200}),
    SimResourceSpec("encoder", "enc-1", "incremental"),
    SimResourceSpec("gantry", "gantry-1", "single-axis"),
    SimResourceSpec("movement_sensor", "imu-1", "mpu6050"),
    SimResourceSpec("sensor", "tmp36", "tmp36", {"analog_reader": "temp", "num_readings": 15}),
    SimResourceSpec("sensor", "my-wifi-sensor", "wifi-rssi"),
    SimResourceSpec("sensor", "fake-1", "fake"),
    SimResourceSpec("servo", "servo-1", "gpio"),
    SimResourceSpec("rdk:service:vision", "vision-1", "mlmodel"),
)

# Params each method needs (the documents' additional_params).
PARAMS: Mapping[str, Mapping[str, str]] = {
    "Analogs": {"reader_name": "A1"},
    "Gpios": {"pin_name": "27"},
    "ReadImage": {"mime_type": "image/jpeg"},
    "CaptureAllFromCamera": {
        "camera_name": "cam",
        "mime_type": "image/jpeg",
        "min_confidence_score": "0.7",
    },
}

SMALL = PayloadOptions(image_width=160, image_height=120, point_count=300)


class Sim:
    """A kernel, one process, a trace and a machine of simulated resources."""

    def __init__(
        self,
        seed: int = 7,
        specs: tuple[SimResourceSpec, ...] = MACHINE,
        payload: PayloadOptions = SMALL,
    ) -> None:
        self.kernel = SimKernel(epoch_ns=EPOCH_NS)
        self.rt: SimRuntime = self.kernel.process("machine")
        self.trace = Trace(self.kernel.now)
        self.devices: dict[str, SimDevice] = build_sim_resources(
            specs, rt=self.rt, rng=RngTree(seed), trace=self.trace, payload=payload
        )

    def __getitem__(self, name: str) -> SimDevice:
        return self.devices[name]

    def run(self, main: Callable[[SimRuntime], Awaitable[T]]) -> T:
        async def wrapper() -> T:
            return await main(self.rt)

        return self.kernel.run_main(wrapper())

    def capture_at(
        self, name: str, method: str, times: list[float], params: Mapping[str, str] | None = None
    ) -> list[Any]:
        """Capture ``method`` at each absolute simulated time; returns the results."""

        async def main(rt: SimRuntime) -> list[Any]:
            out = []
            for t in times:
                await rt.sleep_until(t)
                out.append(
                    await self.devices[name].capture(method, params or PARAMS.get(method, {}))
                )
            return out

        return self.run(main)
