"""Simulated vision service: ``CaptureAllFromCamera`` grabs an image from the camera named by
``camera_name`` (through that camera's own ``capture``, so its faults show through) and
annotates it with detections and a classification.

On a simulated camera the detections are the scene's true objects (boxes where they were
drawn, labels such as ``ripe_tomato`` or ``PASS``/``FAIL``) with noisy confidences, plus the
odd low-confidence false positive; on any other camera they are random boxes labelled
``object``. Like rdk, detections and classifications scoring below ``min_confidence_score``
(default 0.5) are dropped; ``mime_type`` (default ``image/jpeg``) is passed to the camera.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from dmsim.runtime import RngTree, Runtime, Trace

from ._camera import SimCamera
from ._errors import DeviceParamError
from ._params import param_float, param_image_mime, param_required
from ._readings import Annotations, BinaryReading, BoundingBox, Classification, Reading
from ._resource import Resource
from ._signals import Noise
from ._sim import ReadRequest, SimDevice, SimTime

__all__ = ["SimVision"]

Lookup = Callable[[str], Resource]


class SimVision(SimDevice):
    TYPE = "vision"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
        lookup: Lookup | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        self._lookup = lookup
        self._noise = Noise(self._rng.child("detector"))

    def _camera(self, camera_name: str) -> Resource:
        try:
            if self._lookup is None:
                raise LookupError(camera_name)
            camera = self._lookup(camera_name)
        except LookupError:
            raise DeviceParamError(
                f"{self.label}: camera_name {camera_name!r} names no camera"
            ) from None
        if camera.api != "rdk:component:camera":
            raise DeviceParamError(
                f"{self.label}: camera_name {camera_name!r} is a {camera.api}, not a camera"
            )
        return camera

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        where = f"{self.label} CaptureAllFromCamera"
        camera_name = param_required(req.params, "camera_name", where=where)
        mime = param_image_mime(req.params, where=where)
        threshold = param_float(
            req.params, "min_confidence_score", where=where, default=0.5, low=0.0, high=1.0
        )
        camera = self._camera(camera_name)
        shot = await camera.capture("ReadImage", {"mime_type": mime})
        image = shot.readings[0]
        if not isinstance(image, BinaryReading):
            raise DeviceParamError(f"{self.label}: camera {camera_name!r} returned no image")
        boxes = self._detect(camera, req.now)
        kept = tuple(b for b in boxes if b.confidence is not None and b.confidence >= threshold)
        classes = tuple(
            c
            for c in self._classify(kept)
            if c.confidence is not None and c.confidence >= threshold
        )
        return (BinaryReading(image.payload, image.mime_type, Annotations(kept, classes)),)

    def _score(self, base: float, now: SimTime, channel: int) -> float:
        return round(min(0.999, max(0.01, base + 0.08 * self._noise.normal(now.t_ns, channel))), 4)

    def _detect(self, camera: Resource, now: SimTime) -> list[BoundingBox]:
        if not isinstance(camera, SimCamera):
            return self._random_boxes(now)
        objects = camera.objects_at(now.t)
        boxes = []
        for i, obj in enumerate(objects):
            x0, y0, x1, y1 = obj.bbox()
            if x1 - x0 < 1e-3 or y1 - y0 < 1e-3:
                continue  # out of frame
            boxes.append(
                BoundingBox(obj.key, obj.label, x0, y0, x1, y1, self._score(obj.clarity, now, i))
            )
        if objects and self._noise.uniform(now.t_ns, 100) < 0.5:
            # A false positive somewhere in the frame, scoring low.
            label = objects[int(self._noise.uniform(now.t_ns, 101) * len(objects))].label
            x, y = (
                0.8 * self._noise.uniform(now.t_ns, 102),
                0.8 * self._noise.uniform(now.t_ns, 103),
            )
            score = round(0.15 + 0.4 * self._noise.uniform(now.t_ns, 104), 4)
            boxes.append(
                BoundingBox(
                    f"fp{camera.frame_number(now.t)}", label, x, y, x + 0.12, y + 0.12, score
                )
            )
        return boxes

    def _random_boxes(self, now: SimTime) -> list[BoundingBox]:
        boxes = []
        for i in range(1 + int(3 * self._noise.uniform(now.t_ns, 200))):
            x, y = (
                0.7 * self._noise.uniform(now.t_ns, 201 + 2 * i),
                0.7 * self._noise.uniform(now.t_ns, 202 + 2 * i),
            )
            size = 0.1 + 0.2 * self._noise.uniform(now.t_ns, 240 + i)
            boxes.append(
                BoundingBox(
                    f"det{i}", "object", x, y, x + size, y + size, self._score(0.6, now, 260 + i)
                )
            )
        return boxes

    @staticmethod
    def _classify(boxes: tuple[BoundingBox, ...]) -> list[Classification]:
        if not boxes:
            return []
        labels = {b.label for b in boxes}
        if labels <= {"PASS", "FAIL"}:
            # The inspection station's verdict: one failed can fails the frame.
            verdict = "FAIL" if "FAIL" in labels else "PASS"
            scores = [b.confidence or 0.0 for b in boxes if b.label == verdict]
            return [Classification("", verdict, round(sum(scores) / len(scores), 4))]
        label, count = Counter(b.label for b in boxes).most_common(1)[0]
        return [Classification("", label, round(count / len(boxes), 4))]
