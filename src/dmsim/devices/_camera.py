"""Simulated camera: ``ReadImage`` (JPEG or PNG), ``GetImages`` (colour + depth + more views),
``NextPointCloud`` (PCD v0.7), all rendered from one moving :class:`Scene`.

Frames are numbered by time (``fps``, default 30): two captures in one frame period see the
same scene (but fresh sensor noise). Sizes come from the camera's ``width_px``/``height_px``
attributes, else :class:`PayloadOptions`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from PIL import Image

from dmsim.runtime import RngTree, Runtime, Trace

from ._params import PayloadOptions, attr_float, attr_int, attr_str, param_image_mime
from ._pcd import encode_pcd
from ._readings import (
    MIME_JPEG,
    MIME_PCD,
    MIME_PNG,
    Annotations,
    BinaryReading,
    Classification,
    Reading,
)
from ._scene import SCENES, Scene, SceneObject
from ._sim import ReadRequest, SimDevice, SimTime

__all__ = ["SimCamera", "encode_image"]


def encode_image(image: Image.Image, mime_type: str, *, jpeg_quality: int = 75) -> bytes:
    """JPEG or PNG bytes for ``image`` (deterministic: no timestamps or metadata chunks)."""
    out = io.BytesIO()
    if mime_type == MIME_JPEG:
        image.save(out, "JPEG", quality=jpeg_quality)
    else:
        image.save(out, "PNG", compress_level=1)  # speed over size: sims make many
    return out.getvalue()


def _source_names(count: int) -> list[str]:
    return ["color", "depth", *(f"color_{i}" for i in range(2, count))][:count]


class SimCamera(SimDevice):
    TYPE = "camera"

    def __init__(
        self,
        *,
        name: str,
        rt: Runtime,
        rng: RngTree,
        trace: Trace | None = None,
        model: str = "sim",
        latency_s: float = 0.0,
        attributes: Mapping[str, Any] | None = None,
        payload: PayloadOptions | None = None,
    ) -> None:
        super().__init__(name=name, rt=rt, rng=rng, trace=trace, model=model, latency_s=latency_s)
        attrs = attributes or {}
        opts = payload or PayloadOptions()
        source = f"{self.label} attributes"
        self.width = attr_int(
            attrs, "width_px", source=source, default=opts.image_width, low=16, high=8192
        )
        self.height = attr_int(
            attrs, "height_px", source=source, default=opts.image_height, low=16, high=8192
        )
        self.fps = attr_float(attrs, "fps", source=source, default=30.0, low=0.01, high=1000.0)
        kind = attr_str(attrs, "scene", source=source, default="garden", choices=SCENES)
        count = attr_int(attrs, "objects", source=source, default=5, low=1, high=64)
        self._opts = opts
        self.scene = Scene(self._rng.child("scene"), kind=kind, objects=count)

    def frame_number(self, t: float) -> int:
        return int(t * self.fps + 1e-9)

    def objects_at(self, t: float) -> list[SceneObject]:
        """What the camera sees at simulated time ``t`` (the vision service's ground truth)."""
        return self.scene.objects(self._frame_time(t))

    def _frame_time(self, t: float) -> float:
        return self.frame_number(t) / self.fps

    def _color(self, now: SimTime, view: int = 0) -> Image.Image:
        frame = self.frame_number(now.t)
        return self.scene.render(
            self._frame_time(now.t),
            width=self.width,
            height=self.height,
            frame=frame,
            key=now.t_ns * 8 + view,
            caption=f"{self.name} #{frame} t={now.t:.3f}s",
        )

    async def _read(self, req: ReadRequest) -> tuple[Reading, ...]:
        if req.method == "NextPointCloud":
            xyz, rgb = self.scene.point_cloud(
                self._frame_time(req.now.t), points=self._opts.point_count, key=req.now.t_ns
            )
            return (
                BinaryReading(encode_pcd(xyz, rgb, data_format=self._opts.pcd_format), MIME_PCD),
            )
        mime = param_image_mime(req.params, where=f"{self.label} {req.method}")
        if req.method == "ReadImage":
            return (BinaryReading(self._encode(self._color(req.now), mime), mime),)
        readings: list[Reading] = []
        for view, source in enumerate(_source_names(self._opts.images_per_get)):
            if source == "depth":
                image = self.scene.render_depth(
                    self._frame_time(req.now.t), width=self.width, height=self.height
                )
                payload, source_mime = self._encode(image, MIME_PNG), MIME_PNG
            else:
                payload, source_mime = self._encode(self._color(req.now, view), mime), mime
            # rdk tags each GetImages image with its source name as a classification.
            tag = Annotations(classifications=(Classification(id="", label=source),))
            readings.append(BinaryReading(payload, source_mime, tag))
        return tuple(readings)

    def _encode(self, image: Image.Image, mime: str) -> bytes:
        return encode_image(image, mime, jpeg_quality=self._opts.jpeg_quality)
