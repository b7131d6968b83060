"""mongo_capture_config: tabular readings mirrored to MongoDB (mongomock, a well-kept
in-process double: no MongoDB server can be installed from the package registries here)."""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from tests.unit.capture.fakes import Device, Sink

from dmsim.capture import _mongo
from dmsim.capture._collector import Collector
from dmsim.capture._mongo import MirroredSink, MongoMirror
from dmsim.runtime import SimKernel

META = {"component_type": "rdk:component:sensor", "component_name": "probe"}


def make(kernel: SimKernel, factory: Any, logs: list[str]) -> tuple[Collector, Sink, MongoMirror]:
    rt = kernel.process("core")
    mirror = MongoMirror(rt=rt, client_factory=factory, log=logs.append)
    mirror.configure(uri="mongodb://127.0.0.1:27017", database="sensorData", collection="readings")
    mirror.start()
    disk = Sink(rt)
    collector = Collector(
        rt=rt, stream="rdk:component:sensor/probe/Readings", boot=0, source=Device(rt),
        method="Readings", params={}, period_s=1.0, queue_size=250,
        sink=MirroredSink(disk, mirror, META), durability_window_s=1.0, capture_timeout_s=5.0,
    )  # fmt: skip
    return collector, disk, mirror


def test_tabular_readings_land_in_the_default_database_and_collection() -> None:
    client = mongomock.MongoClient()
    kernel = SimKernel(epoch_ns=1_700_000_000 * 10**9)
    collector, disk, mirror = make(kernel, lambda uri: client, [])
    collector.start()
    kernel.run(until=30.5)
    docs = list(client["sensorData"]["readings"].find({}, {"_id": 0}).sort("reading_id.seq"))
    assert len(docs) == len(disk.written) == 30
    assert docs[0]["component_name"] == "probe"
    assert docs[0]["data"] == {"t": 1.0}
    assert docs[0]["reading_id"] == {"stream": collector.stream, "boot": 0, "seq": 0}
    assert mirror.statistics().inserted == 30


def test_a_broken_mongodb_never_affects_capture_and_is_logged_once_per_interval() -> None:
    def unreachable(uri: str) -> Any:
        raise ConnectionError(f"{uri}: connection refused")

    logs: list[str] = []
    kernel = SimKernel(epoch_ns=0)
    collector, disk, mirror = make(kernel, unreachable, logs)
    collector.start()
    kernel.run(until=300.5)
    assert len(disk.written) == 300  # capture to disk unaffected
    assert collector.statistics().skipped_total == 0
    assert mirror.statistics().failed == 300
    assert 4 <= len(logs) <= 6  # one line a minute, not one per reading
    assert "connection refused" in logs[0]


def test_mirroring_is_off_without_a_uri() -> None:
    client = mongomock.MongoClient()
    kernel = SimKernel(epoch_ns=0)
    collector, _, mirror = make(kernel, lambda uri: client, [])
    mirror.configure(uri="", database="sensorData", collection="readings")
    collector.start()
    kernel.run(until=10.5)
    assert client["sensorData"]["readings"].count_documents({}) == 0


def test_with_mirroring_off_no_document_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # a document costs ≈ 25 µs per reading (MessageToDict, two datetimes): more than the disk
    # write, paid on every tabular reading of every machine until mirroring was checked first
    built: list[object] = []
    monkeypatch.setattr(_mongo, "mongo_document", lambda *args: built.append(args) or {})
    kernel = SimKernel(epoch_ns=0)
    collector, disk, mirror = make(kernel, lambda uri: mongomock.MongoClient(), [])
    mirror.configure(uri="", database="sensorData", collection="readings")
    collector.start()
    kernel.run(until=10.5)
    assert len(disk.written) == 10
    assert built == []
