"""What the simulated camera sees: moving objects, rendered as images and point clouds.

Two scenes:

- ``garden`` (the tomato-picking robot): ripe and unripe tomatoes and leaves drifting slowly
  in front of a foliage backdrop as the robot moves.
- ``inspection`` (the can inspection station): cans riding a conveyor left to right, each
  ``PASS`` or ``FAIL`` (failed cans carry a dent), with a lot code printed on them.

Objects are a pure function of (seed, time), so the vision service can ask the camera what
was in a frame and annotate it truthfully. Every image carries its frame number twice: as
text, and as a 32-cell barcode strip along the top that :func:`read_frame_strip` decodes even
after JPEG compression (for alignment checks).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from dmsim.runtime import RngTree

from ._signals import Noise, Smooth

__all__ = ["SCENES", "Scene", "SceneObject", "read_frame_strip"]

SCENES = ("garden", "inspection")
_STRIP_BITS = 32
_STRIP_MIN_WIDTH = 96
_CAN_SPEED = 0.08  # image widths per second
_CAN_SPACING = 0.34
_FAIL_RATE = 0.2
_BELT_TOP = 0.35

_GARDEN_KINDS = (
    ("ripe_tomato", (205, 35, 30), 0.93),
    ("unripe_tomato", (120, 170, 60), 0.78),
    ("leaf", (40, 95, 35), 0.62),
)


@dataclass(frozen=True, slots=True)
class SceneObject:
    """One object in a frame: centre and radii normalized to the image, depth in metres.

    ``clarity`` in (0, 1] is how recognisable the object is (the vision model's base score).
    """

    key: str
    label: str
    cx: float
    cy: float
    rx: float
    ry: float
    depth_m: float
    color: tuple[int, int, int]
    clarity: float
    text: str = ""

    def bbox(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` clamped to the image."""
        return (
            max(0.0, self.cx - self.rx),
            max(0.0, self.cy - self.ry),
            min(1.0, self.cx + self.rx),
            min(1.0, self.cy + self.ry),
        )


class Scene:
    """The objects in view at time ``t`` and their renderings."""

    def __init__(self, rng: RngTree, *, kind: str = "garden", objects: int = 5) -> None:
        self.kind = kind
        self._noise = Noise(rng.child("noise"))
        self._paths = [
            (
                Smooth(
                    rng.child(f"obj{i}").child("x"),
                    offset=0.15 + 0.7 * (i + 0.5) / objects,
                    amplitude=0.12,
                ),
                Smooth(rng.child(f"obj{i}").child("y"), offset=0.55, amplitude=0.25),
            )
            for i in range(objects)
        ]
        self._lots: dict[int, str] = {}
        self._faker_seed = rng.child("lots").derived_seed()
        self._faker: Any = None  # built on first use: constructing Faker takes ~10 ms

    # -- objects ------------------------------------------------------------------------
    def objects(self, t: float) -> list[SceneObject]:
        return self._cans(t) if self.kind == "inspection" else self._garden(t)

    def _garden(self, t: float) -> list[SceneObject]:
        items = []
        for i, (px, py) in enumerate(self._paths):
            label, color, clarity = _GARDEN_KINDS[
                int(self._noise.uniform(i, 1) * len(_GARDEN_KINDS))
            ]
            size = 0.05 + 0.06 * self._noise.uniform(i, 2)
            depth = 0.9 + 0.8 * self._noise.uniform(i, 3)
            squash = 0.55 if label == "leaf" else 1.0
            items.append(
                SceneObject(
                    f"obj{i}",
                    label,
                    px.value(t),
                    py.value(t),
                    size,
                    size * 1.33 * squash,
                    depth,
                    color,
                    clarity,
                )
            )
        return items

    def _cans(self, t: float) -> list[SceneObject]:
        travelled = t * _CAN_SPEED
        first = math.floor((travelled - 1.2) / _CAN_SPACING)
        items = []
        for k in range(max(0, first), int(travelled / _CAN_SPACING) + 2):
            cx = travelled - k * _CAN_SPACING
            if not -0.1 < cx < 1.1:
                continue
            failed = self._noise.uniform(k, 10) < _FAIL_RATE
            clarity = 0.7 + 0.28 * self._noise.uniform(k, 11)
            items.append(
                SceneObject(
                    f"can{k}",
                    "FAIL" if failed else "PASS",
                    cx,
                    0.58,
                    0.09,
                    0.2,
                    1.2,
                    (170, 172, 180),
                    clarity,
                    self._lot_code(k),
                )
            )
        return items

    def _lot_code(self, k: int) -> str:
        code = self._lots.get(k)
        if code is None:
            if self._faker is None:
                from faker import Faker

                self._faker = Faker()
            # Printed lot codes are the one piece of text in a scene: faker, seeded per can.
            self._faker.seed_instance(self._faker_seed ^ k)
            code = str(self._faker.bothify("LOT-####-??")).upper()
            if len(self._lots) > 256:
                self._lots.clear()
            self._lots[k] = code
        return code

    # -- images -------------------------------------------------------------------------
    def render(
        self, t: float, *, width: int, height: int, frame: int, key: int, caption: str
    ) -> Image.Image:
        """An RGB frame; ``key`` seeds the sensor noise (the capture time in ns)."""
        backdrop = Image.fromarray(self._backdrop(t, height), "RGB")
        pixels = np.array(backdrop.resize((width, height), Image.Resampling.NEAREST))
        # Sensor noise (0..7 per channel; the backdrop stays ≤ 245, so no wrap-around).
        noise = np.frombuffer(self._noise.generator(key).bytes(pixels.size), np.uint8)
        np.add(pixels, (noise & 7).reshape(pixels.shape), out=pixels)
        image = Image.fromarray(pixels, "RGB")
        draw = ImageDraw.Draw(image)
        if self.kind == "inspection":
            self._draw_cleats(draw, t, width, height)
        for obj in sorted(self.objects(t), key=lambda o: -o.depth_m):
            self._draw_object(draw, obj, width, height)
        _draw_strip(draw, frame, width, height)
        draw.text(
            (4, _strip_height(height) + 2),
            caption,
            fill=(255, 255, 255),
            font=_font(max(8, height // 30)),
        )
        return image

    def render_depth(self, t: float, *, width: int, height: int) -> Image.Image:
        """An 8-bit depth map (near = bright) of the same objects."""
        rows = np.linspace(60, 110, height, dtype=np.float32)[:, None]
        depth = np.broadcast_to(rows, (height, width)).astype(np.uint8).copy()
        image = Image.fromarray(depth, "L")
        draw = ImageDraw.Draw(image)
        for obj in sorted(self.objects(t), key=lambda o: -o.depth_m):
            shade = int(max(0, min(255, 255 - 90 * obj.depth_m)))
            draw.ellipse(_box(obj, width, height), fill=shade)
        return image

    def _backdrop(self, t: float, height: int) -> npt.NDArray[np.uint8]:
        """One column of the background (height × 1 × RGB); rendering stretches it."""
        rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
        if self.kind == "inspection":
            wall, belt = np.array([150, 152, 158], np.float32), np.array([72, 74, 80], np.float32)
            return np.where(rows > _BELT_TOP, belt, wall).astype(np.uint8)
        sky, soil = np.array([70, 120, 60], np.float32), np.array([90, 70, 45], np.float32)
        light = 0.85 + 0.15 * math.sin(t / 40.0)  # passing clouds
        return ((sky * (1 - rows) + soil * rows) * light).astype(np.uint8)

    @staticmethod
    def _draw_cleats(draw: ImageDraw.ImageDraw, t: float, width: int, height: int) -> None:
        # Cleats across the belt, moving with the cans.
        pitch = max(8, width // 12)
        shift = int(t * _CAN_SPEED * width) % pitch
        for x in range(shift - pitch, width, pitch):
            draw.rectangle((x, int(height * _BELT_TOP), x + 3, height - 1), fill=(40, 41, 45))

    @staticmethod
    def _draw_object(draw: ImageDraw.ImageDraw, obj: SceneObject, width: int, height: int) -> None:
        box = _box(obj, width, height)
        if obj.text:  # a can: body, rim, label band, and a dent if it failed
            draw.rounded_rectangle(
                box, radius=max(2, width // 80), fill=obj.color, outline=(60, 60, 60)
            )
            x0, y0, x1, y1 = box
            band = (x0, y0 + (y1 - y0) * 0.35, x1, y0 + (y1 - y0) * 0.65)
            draw.rectangle(band, fill=(200, 40, 40))
            draw.text((x0 + 2, band[1] + 1), obj.text, fill=(255, 255, 255))
            dent = (x0 + (x1 - x0) * 0.55, y0 + (y1 - y0) * 0.1, x1 - 2, y0 + (y1 - y0) * 0.3)
            # A can only just entering the frame is too narrow for its dent: skip it.
            if obj.label == "FAIL" and dent[2] > dent[0] and dent[3] > dent[1]:
                draw.ellipse(dent, fill=(40, 40, 45))
        else:
            draw.ellipse(box, fill=obj.color, outline=tuple(c // 2 for c in obj.color))

    # -- point clouds -------------------------------------------------------------------
    def point_cloud(
        self, t: float, *, points: int, key: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint32]]:
        """``(xyz, rgb)``: a backdrop 2 m away and the objects as spheres (camera frame:
        x right, y down, z forward, metres)."""
        gen = self._noise.generator(key)
        objects = self.objects(t)
        on_objects = points // 2 if objects else 0
        back = points - on_objects
        u, v = gen.uniform(-1.0, 1.0, back), gen.uniform(-0.75, 0.75, back)
        z = 2.0 + 0.05 * np.sin(6 * u + t) + gen.normal(0, 0.004, back)
        xyz = [np.stack([u * z / 2, v * z / 2, z], axis=1)]
        rgb = [np.full(back, 0x3C5A32, dtype=np.uint32)]
        for i, obj in enumerate(objects):
            n = on_objects // len(objects) + (1 if i < on_objects % len(objects) else 0)
            theta = gen.uniform(0, 2 * np.pi, n)
            phi = np.arccos(gen.uniform(-1.0, 0.0, n))  # the hemisphere facing the camera
            radius = obj.rx * obj.depth_m
            centre = (
                (obj.cx - 0.5) * obj.depth_m,
                (obj.cy - 0.5) * 0.75 * obj.depth_m,
                obj.depth_m,
            )
            xyz.append(
                np.stack(
                    [
                        centre[0] + radius * np.sin(phi) * np.cos(theta),
                        centre[1] + radius * np.sin(phi) * np.sin(theta),
                        centre[2] + radius * np.cos(phi),
                    ],
                    axis=1,
                )
            )
            r, g, b = obj.color
            rgb.append(np.full(n, (r << 16) | (g << 8) | b, dtype=np.uint32))
        return np.concatenate(xyz).astype(np.float32), np.concatenate(rgb)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Loading a font parses a file: once per size (a cache of immutable values, no state).
    return ImageFont.load_default(size=size)


def _box(obj: SceneObject, width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = obj.bbox()
    # Pillow refuses boxes whose far edge is before their near edge (an object at the frame's
    # edge can round that way at small sizes).
    return (
        x0 * (width - 1),
        y0 * (height - 1),
        max(x0 * (width - 1), x1 * (width - 1)),
        max(y0 * (height - 1), y1 * (height - 1)),
    )


def _strip_height(height: int) -> int:
    return max(4, height // 40)


def _draw_strip(draw: ImageDraw.ImageDraw, frame: int, width: int, height: int) -> None:
    if width < _STRIP_MIN_WIDTH:
        return
    cell = width / (_STRIP_BITS + 2)
    strip = _strip_height(height)
    draw.rectangle((0, 0, width - 1, strip - 1), fill=(0, 0, 0))
    draw.rectangle((0, 0, cell - 1, strip - 1), fill=(255, 255, 255))  # start marker
    for bit in range(_STRIP_BITS):
        if (frame >> (_STRIP_BITS - 1 - bit)) & 1:
            x0 = cell * (bit + 1)
            draw.rectangle((x0, 0, x0 + cell - 1, strip - 1), fill=(255, 255, 255))


def read_frame_strip(image: Image.Image) -> int | None:
    """The frame number encoded in ``image``'s top strip (``None`` if it has none)."""
    width, height = image.size
    if width < _STRIP_MIN_WIDTH:
        return None
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    row = gray[: _strip_height(height)].mean(axis=0)
    cell = width / (_STRIP_BITS + 2)

    def bit(index: int) -> bool:
        centre = cell * (index + 0.5)
        lo, hi = int(centre - cell / 4), int(centre + cell / 4) + 1
        return bool(row[lo:hi].mean() > 128)

    if not bit(0) or bit(_STRIP_BITS + 1):
        return None
    value = 0
    for index in range(1, _STRIP_BITS + 1):
        value = (value << 1) | int(bit(index))
    return value
