"""The picamera2 adapter and the frame-source camera, with a duck-typed Picamera2."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dmsim.devices import (
    CameraFrame,
    DeviceReadError,
    DeviceTimeout,
    DeviceUnavailable,
    FrameSourceCamera,
    Picamera2Source,
    check_capture_result,
)
from dmsim.runtime import SimKernel


class FakeRequest:
    def __init__(self, camera: FakePicamera2) -> None:
        self.camera = camera

    def make_array(self, stream: str) -> np.ndarray:
        assert stream == "main"
        if self.camera.fail_next:
            self.camera.fail_next = False
            raise RuntimeError("dma buffer lost")
        width, height = self.camera.config["main"]["size"]
        bgr = np.zeros((height, width, 3), np.uint8)
        bgr[..., 0] = 200  # blue, in BGR order
        return bgr

    def get_metadata(self) -> dict[str, Any]:
        return {"SensorTimestamp": 123_456_789, "ExposureTime": 10_000}

    def release(self) -> None:
        self.camera.outstanding -= 1


class FakePicamera2:
    """Just the Picamera2 surface the adapter uses."""

    def __init__(self) -> None:
        self.config: dict[str, Any] = {}
        self.started = self.closed = False
        self.outstanding = 0
        self.fail_next = False
        self.hang = False

    def create_video_configuration(self, *, main: dict[str, Any]) -> dict[str, Any]:
        return {"main": main}

    def configure(self, config: dict[str, Any]) -> None:
        self.config = config

    def start(self) -> None:
        self.started = True

    def capture_request(self, wait: float | None = None) -> FakeRequest:
        if self.hang:
            raise TimeoutError(f"no frame in {wait}s")
        self.outstanding += 1
        return FakeRequest(self)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True


def test_adapter_configures_grabs_rgb_and_releases_requests() -> None:
    fake = FakePicamera2()
    source = Picamera2Source(width=64, height=48, camera_factory=lambda: fake)
    source.start()
    assert fake.config["main"] == {"size": (64, 48), "format": "RGB888"}
    assert fake.started
    frame = source.grab(0.5)
    assert isinstance(frame, CameraFrame)
    assert frame.pixels.shape == (48, 64, 3)
    assert tuple(frame.pixels[0, 0]) == (0, 0, 200)
    assert frame.t_ns == 123_456_789
    assert frame.metadata["ExposureTime"] == 10_000
    fake.fail_next = True
    with pytest.raises(RuntimeError, match="dma"):
        source.grab(0.5)
    assert fake.outstanding == 0
    assert (source.requests, source.released) == (2, 2)
    source.stop()
    assert fake.closed
    assert not fake.started


def test_adapter_without_picamera2_is_unavailable() -> None:
    with pytest.raises(DeviceUnavailable, match="picamera2 is not installed"):
        Picamera2Source().start()

    def broken() -> Any:
        raise RuntimeError("Camera __init__ sequence did not complete")

    with pytest.raises(DeviceUnavailable, match="cannot be started"):
        Picamera2Source(camera_factory=broken).start()


def run(main: Any) -> Any:
    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)
    return kernel.run_main(main(kernel.process("p")))


def test_frame_source_camera_encodes_frames() -> None:
    fake = FakePicamera2()

    async def main(rt: Any) -> Any:
        camera = FrameSourceCamera(
            name="picam",
            source=Picamera2Source(width=64, height=48, camera_factory=lambda: fake),
            rt=rt,
        )
        jpeg = await camera.capture("ReadImage", {"mime_type": "image/jpeg"})
        png = await camera.capture("GetImages", {"mime_type": "image/png"})
        fake.hang = True
        with pytest.raises(DeviceTimeout, match="no frame within 1s"):
            await camera.capture("ReadImage", {})
        fake.hang = False
        fake.fail_next = True
        with pytest.raises(DeviceReadError, match="dma buffer lost"):
            await camera.capture("ReadImage", {})
        await camera.close()
        return jpeg, png, camera.statistics()

    jpeg, png, stats = run(main)
    check_capture_result(
        jpeg, method="ReadImage", params={"mime_type": "image/jpeg"}, image_size=(64, 48)
    )
    check_capture_result(png, method="GetImages", image_size=(64, 48))
    pixel = Image.open(io.BytesIO(png.readings[0].payload)).getpixel((0, 0))
    assert pixel == (0, 0, 200)  # blue stays blue: BGR was flipped to RGB
    assert png.readings[0].annotations.classifications[0].label == "color"
    assert dict(stats.errors) == {"read_error": 1, "timeout": 1}
    assert stats.transport["frames"] == 2
    assert fake.closed
    assert fake.outstanding == 0
