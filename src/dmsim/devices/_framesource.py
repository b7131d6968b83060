"""Cameras behind a frame source: the picamera2 adapter, and a camera resource over any source.

:class:`FrameSource` is the narrow port (``start``, ``grab(timeout)``, ``stop``).
:class:`Picamera2Source` adapts Picamera2/libcamera (apt-installed on Raspberry Pi OS; imported
only in ``start``): one ``capture_request`` per frame, always released, even on errors.
``SensorTimestamp`` (ns, CLOCK_MONOTONIC, start of exposure) stamps the frame. Picamera2's
``RGB888`` format stores pixels as B, G, R in memory, so the adapter flips them to RGB.

:class:`FrameSourceCamera` is a camera resource (``ReadImage``, ``GetImages``) over a source,
encoding frames as JPEG or PNG.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from dmsim.runtime import Runtime

from ._camera import encode_image
from ._driver import RealDriver
from ._errors import DeviceReadError, DeviceTimeout, DeviceUnavailable
from ._params import param_image_mime
from ._readings import Annotations, BinaryReading, CaptureResult, Classification

__all__ = ["CameraFrame", "FrameSource", "FrameSourceCamera", "Picamera2Source"]


@dataclass(frozen=True, slots=True)
class CameraFrame:
    """RGB pixels (height × width × 3, uint8), the sensor timestamp, and metadata."""

    pixels: npt.NDArray[np.uint8]
    t_ns: int | None
    metadata: Mapping[str, Any] = field(default_factory=dict)


class FrameSource(Protocol):
    def start(self) -> None: ...

    def grab(self, timeout: float) -> CameraFrame:
        """The next frame; raises ``TimeoutError`` if none comes within ``timeout`` seconds."""

    def stop(self) -> None: ...


class Picamera2Source:
    """Frames from a Raspberry Pi camera. ``camera_factory`` builds the ``Picamera2`` object
    (default: ``picamera2.Picamera2``); tests pass a duck-typed fake."""

    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 480,
        camera_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.size = (width, height)
        self._factory = camera_factory
        self._camera: Any = None
        self.requests = self.released = 0

    def start(self) -> None:
        if self._camera is not None:
            return
        factory = self._factory
        if factory is None:
            try:
                from picamera2 import Picamera2
            except ImportError as error:
                raise DeviceUnavailable(
                    f"picamera2 is not installed (apt python3-picamera2): {error}"
                ) from None
            factory = Picamera2
        try:
            camera = factory()
            camera.configure(
                camera.create_video_configuration(main={"size": self.size, "format": "RGB888"})
            )
            camera.start()
        except (
            RuntimeError,
            OSError,
            IndexError,
        ) as error:  # no camera, busy, or libcamera failure
            raise DeviceUnavailable(f"camera cannot be started: {error}") from None
        self._camera = camera

    def grab(self, timeout: float) -> CameraFrame:
        if self._camera is None:
            raise DeviceUnavailable("camera is not started")
        request = self._camera.capture_request(wait=timeout)
        self.requests += 1
        try:
            bgr = request.make_array("main")
            metadata = dict(request.get_metadata())
        finally:
            request.release()  # a request not released stalls the camera after a few frames
            self.released += 1
        pixels = np.ascontiguousarray(bgr[:, :, 2::-1])
        stamp = metadata.get("SensorTimestamp")
        return CameraFrame(pixels, int(stamp) if stamp is not None else None, metadata)

    def stop(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
            finally:
                camera.close()


class FrameSourceCamera(RealDriver):
    """A camera resource over a :class:`FrameSource` (``GetImages`` returns the one image)."""

    TYPE = "camera"
    METHODS = frozenset({"ReadImage", "GetImages"})

    def __init__(
        self,
        *,
        name: str,
        source: FrameSource,
        rt: Runtime,
        grab_timeout_s: float = 1.0,
        jpeg_quality: int = 85,
    ) -> None:
        super().__init__(name=name, rt=rt)
        self._source = source
        self._timeout = grab_timeout_s
        self._quality = jpeg_quality
        self._started = False

    async def _capture(self, method: str, params: Mapping[str, str], /) -> CaptureResult:
        mime = param_image_mime(params, where=f"{self.label} {method}")
        if not self._started:
            await self._rt.run_blocking(self._source.start)
            self._started = True
        requested = self._rt.wall_ns()
        try:
            frame = await self._rt.run_blocking(self._source.grab, self._timeout)
        except TimeoutError:
            raise DeviceTimeout(f"{self.label}: no frame within {self._timeout:g}s") from None
        except (RuntimeError, OSError, ValueError) as error:
            raise DeviceReadError(f"{self.label}: frame grab failed: {error}") from None
        received = max(requested, self._rt.wall_ns())
        self._count("frames")
        payload = encode_image(
            Image.fromarray(frame.pixels, "RGB"), mime, jpeg_quality=self._quality
        )
        annotations = None
        if method == "GetImages":
            annotations = Annotations(classifications=(Classification(id="", label="color"),))
        return CaptureResult((BinaryReading(payload, mime, annotations),), requested, received)

    async def close(self) -> None:
        if self._started:
            self._started = False
            await self._rt.run_blocking(self._source.stop)
