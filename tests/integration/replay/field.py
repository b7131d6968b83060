"""A field device's capture directory, as an on-call engineer would copy it off the device.

- ``probe``: a dmsim-written sensor stream, three completed files and one ``.prog`` left by a
  power cut with a torn tail; identities on boot 0 (what a fresh simulated process uses too).
- ``tmp36``: one file written by other code (rdk's layout, viam-sdk classes, no identities).
- ``failed/``: a quarantined file with its reason; ``.dmsim/boot`` when asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from viam.proto.app.datasync import DataType, SensorData

from dmsim.storage._codec import binary_reading, build_metadata, tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.storage._naming import CollectorKey
from dmsim.storage._realfs import RealFS
from dmsim.storage._varint import uvarint
from dmsim.storage._writer import CaptureWriter

T0 = 1_781_715_872 * 10**9  # 2026-06-17T17:04:32Z
PROBE_STREAM = "rdk:component:sensor/probe/Readings"
PROBE_DIR = "rdk_component_sensor/probe/Readings"
PROBE_COMPLETED = 30  # readings in the three completed files
PROBE_IN_PROG = 4  # whole readings in the .prog before its torn tail
TMP36_READINGS = 6
TORN_BYTES = 7


def frame(message: bytes) -> bytes:
    return uvarint(len(message)) + message


def writer_at(root: Path, key: CollectorKey, seconds: list[float], **options: Any) -> CaptureWriter:
    """A writer on the real disk whose clock reads ``seconds[0]`` (after ``T0`` on the wall)."""
    return CaptureWriter(
        RealFS(),
        capture_dir=str(root),
        key=key,
        now=lambda: seconds[0],
        wall_ns=lambda: T0 + int(seconds[0] * 1e9),
        **options,
    )


def probe_writer(root: Path, seconds: list[float]) -> CaptureWriter:
    key = CollectorKey.of("rdk:component:sensor", "probe", "Readings")
    return writer_at(
        root, key, seconds, data_type=DataType.DATA_TYPE_TABULAR_SENSOR, tags=["field"]
    )


def write_probe(root: Path, first_seq: int, count: int, seconds: list[float]) -> CaptureWriter:
    writer = probe_writer(root, seconds)
    for seq in range(first_seq, first_seq + count):
        seconds[0] = seq * 0.5  # 2 Hz
        t = T0 + seq * 500_000_000
        writer.write(
            tabular_reading({"v": seq}, time_requested_ns=t, time_received_ns=t + 1000),
            reading_id=ReadingId(PROBE_STREAM, 0, seq),
        )
    return writer


def make_field_dir(root: Path, *, boot_counter: int | None = None) -> Path:
    root.mkdir(parents=True)
    seconds = [0.0]
    for start in range(0, PROBE_COMPLETED, 10):
        write_probe(root, start, 10, seconds).close()
    # the power cut: an open file (never renamed), its last record cut short
    open_writer = write_probe(root, PROBE_COMPLETED, PROBE_IN_PROG, seconds)
    open_writer.sync()
    (prog,) = (root / PROBE_DIR).glob("*.prog")
    cut = tabular_reading({"v": 99}, time_requested_ns=T0, time_received_ns=T0).SerializeToString()
    with prog.open("ab") as out:  # the next record, cut short by the power cut
        out.write(uvarint(len(cut)) + cut[: TORN_BYTES - 1])
    # another writer's file: rdk's layout and framing, no dmsim identity
    metadata = build_metadata(
        component_type="rdk:component:sensor",
        component_name="tmp36",
        method_name="Readings",
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        file_extension=".dat",
    )
    body = frame(metadata.SerializeToString())
    for i in range(TMP36_READINGS):
        t = T0 + i * 10**9
        reading: SensorData = tabular_reading(
            {"celsius": 20 + i}, time_requested_ns=t, time_received_ns=t + 5000
        )
        body += frame(reading.SerializeToString())
    tmp36 = root / "rdk_component_sensor" / "tmp36" / "Readings"
    tmp36.mkdir(parents=True)
    (tmp36 / "2026-06-17T17_04_32.000000Z.capture").write_bytes(body)
    failed = root / "failed" / PROBE_DIR
    failed.mkdir(parents=True)
    (failed / "old.capture").write_bytes(b"\x00garbage")
    (failed / "old.capture.reason.txt").write_text("no metadata at byte 0\n")  # as dmsim writes it
    if boot_counter is not None:
        (root / ".dmsim").mkdir()
        (root / ".dmsim" / "boot").write_text(f"{boot_counter}\n")
    return root


PRELOADED_READINGS = PROBE_COMPLETED + PROBE_IN_PROG + TMP36_READINGS


def write_binary(
    root: Path, component: str, method: str, payloads: list[bytes], *, hz: float, mime: str
) -> None:
    """One file per payload, as a binary collector writes them, at ``hz``."""
    component_type, name = component.rsplit("/", 1)
    seconds = [0.0]
    key = CollectorKey.of(component_type, name, method)
    writer = writer_at(
        root, key, seconds, data_type=DataType.DATA_TYPE_BINARY_SENSOR, mime_type=mime
    )
    for i, payload in enumerate(payloads):
        seconds[0] = i / hz
        t = T0 + int(i / hz * 1e9)
        writer.write(binary_reading(payload, time_requested_ns=t, time_received_ns=t))
    writer.close()
