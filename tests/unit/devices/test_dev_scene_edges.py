"""Regression: a FAIL can only just entering the frame made the inspection camera raise
(Pillow refuses an ellipse whose right edge is left of its left edge), which crashed the
inspection-station scenario."""

from __future__ import annotations

from tests.unit.devices.devsim import Sim

from dmsim.devices import PayloadOptions, SimResourceSpec

TINY = PayloadOptions(image_width=16, image_height=16, point_count=10)


def test_the_inspection_camera_renders_every_frame_at_the_smallest_size() -> None:
    sim = Sim(
        seed=3,
        specs=(SimResourceSpec("camera", "inspection-cam", "webcam", {"scene": "inspection"}),),
        payload=TINY,
    )
    times = [i * 0.37 for i in range(1, 400)]
    results = sim.capture_at("inspection-cam", "ReadImage", times, {"mime_type": "image/png"})
    assert len(results) == len(times)
