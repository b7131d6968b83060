"""The simulated world's cloud traces what it stores: every reading of a new upload, one event
for a resend of what a key stored, and every reading of a resend that carries other readings
under a stored key, so the oracle still judges each of those."""

from __future__ import annotations

from tests.unit.cloud.cloud_kit import T0, with_identity
from viam.proto.app.datasync import DataCaptureUploadRequest

from dmsim.capture import sensor_data_digest
from dmsim.cloud.samples import tabular_request
from dmsim.runtime import Trace
from dmsim.scenario import OracleOptions, build_ledger, classify_all
from dmsim.scenario._world import _RecordingCloud

OPTIONS = OracleOptions(durability_window_s=1.0, run_end=1)


def request(values: list[float]) -> DataCaptureUploadRequest:
    """Readings ``s/0/0``, ``s/0/1``… with these values."""
    upload = tabular_request([{"t": value} for value in values])
    for seq, reading in enumerate(upload.sensor_contents):
        reading.CopyFrom(with_identity(reading, "s", 0, seq))
    return upload


def uploaded(captured: DataCaptureUploadRequest, *sent: DataCaptureUploadRequest) -> Trace:
    """The trace of capturing ``captured``'s readings, then sending each of ``sent`` under
    one key."""
    trace = Trace(lambda: 0.0)
    for seq, reading in enumerate(captured.sensor_contents):
        digest = sensor_data_digest(reading)
        trace.record("reading.captured", stream="s", boot=0, seq=seq, digest=digest)
    cloud = _RecordingCloud(trace=trace, clock=lambda: T0)
    for upload in sent:
        cloud.ingest_data_capture(upload, key="K")
    return trace


def test_a_resend_of_what_a_key_stored_is_one_event() -> None:
    readings = request([1, 2, 3])
    trace = uploaded(readings, readings, readings, readings)
    assert trace.count("cloud.stored") == 3
    assert [e.fields for e in trace.of_kind("cloud.recognised")] == [
        {"key": "K", "readings": 3}
    ] * 2
    ledger = build_ledger(trace)
    assert ledger.anomalies == ()
    classes = [c.cls for c in classify_all(ledger, OPTIONS)]
    assert classes == ["delivered"] * 3


def test_other_readings_resent_under_a_stored_key_are_judged_one_by_one() -> None:
    """The cloud keeps what it stored first, but a machine that resends other content under
    a key it used is wrong: the reading it changed is corrupted, as it was before resends
    became one event."""
    readings = request([1, 2, 3])
    trace = uploaded(readings, readings, request([1, 2, 4]))
    assert trace.count("cloud.recognised") == 0
    resent = [e.fields for e in trace.of_kind("cloud.stored") if e.fields["duplicate_key"]]
    assert [f["seq"] for f in resent] == [0, 1, 2]
    classified = classify_all(build_ledger(trace), OPTIONS)
    assert [c.cls for c in classified] == ["delivered", "delivered", "corrupted"]
