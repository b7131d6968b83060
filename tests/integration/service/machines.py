"""A small machine for the real-runtime tests: a 20 Hz sensor and a 2 Hz camera, syncing every
1.2 s from the given capture directory; optionally a vision service reading the camera."""

from __future__ import annotations

from pathlib import Path


def machine_config(capture_dir: Path) -> dict[str, object]:
    return {
        "components": [
            {"name": "probe", "type": "sensor", "model": "fake",
             "service_configs": [{"type": "data_manager", "attributes": {
                 "capture_methods": [{"method": "Readings", "capture_frequency_hz": 20}]}}]},
            {"name": "cam", "type": "camera", "model": "webcam",
             "attributes": {"width_px": 64, "height_px": 48},
             "service_configs": [{"type": "data_manager", "attributes": {
                 "capture_methods": [{"method": "ReadImage", "capture_frequency_hz": 2,
                                      "additional_params": {"mime_type": "image/jpeg"}}]}}]},
        ],
        "services": [{"name": "dm", "type": "data_manager", "attributes": {
            "capture_dir": str(capture_dir), "sync_interval_mins": 0.02}}],
    }  # fmt: skip


def with_vision(machine: dict[str, object], hz: float) -> dict[str, object]:
    """``machine`` plus vision service 'detector' capturing camera 'cam' at ``hz``."""
    services = machine["services"]
    assert isinstance(services, list)
    detector = {"name": "detector", "type": "vision", "model": "mlmodel",
        "service_configs": [{"type": "data_manager", "attributes": {"capture_methods": [
            {"method": "CaptureAllFromCamera", "capture_frequency_hz": hz,
             "additional_params": {"camera_name": "cam", "mime_type": "image/jpeg"}}]}}],
    }  # fmt: skip
    return machine | {"services": [*services, detector]}
