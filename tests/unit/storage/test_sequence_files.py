"""Sequence files as rdk writes and reads them: JSON round trip, Go's time format, durable
atomic writes on SimFS, and start-up tidying of what a stop left behind."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmsim.errors import StorageError
from dmsim.runtime import RngTree
from dmsim.storage import SimFS
from dmsim.storage._quarantine import REASON_SUFFIX
from dmsim.storage._sequences import (
    SequenceFile,
    parse_sequence_file,
    recover_sequences,
    rfc3339_ns,
    write_sequence_file,
)

CAPTURE = "/capture"
NS = 1_000_000_000

_NAMES = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=8)
_SEQUENCES = st.builds(
    lambda start, length, resources, tags, open_: SequenceFile(
        start, None if open_ else start + length, tuple(resources), tuple(tags)
    ),
    st.integers(0, 250 * 365 * 86_400 * NS),
    st.integers(0, 10**12),
    st.lists(st.tuples(_NAMES, _NAMES), min_size=1, max_size=4),
    st.lists(_NAMES, max_size=3),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(_SEQUENCES)
def test_any_sequence_reads_back_as_written(sequence: SequenceFile) -> None:
    assert parse_sequence_file(sequence.to_json_bytes(), "x.seq") == sequence


def test_a_file_written_by_rdk_parses_nanoseconds_offsets_and_all() -> None:
    go = b"""{
  "start_time": "2026-09-29T14:00:00.123456789+02:00",
  "end_time": "2026-09-29T12:00:30Z",
  "resources": [
    {"resource_name": "my-camera", "method_name": "GetImages"}
  ],
  "sequence_tags": ["demo-1"]
}"""
    sequence = parse_sequence_file(go, "a.seq")
    assert rfc3339_ns(sequence.start_ns) == "2026-09-29T12:00:00.123456789Z"
    assert rfc3339_ns(sequence.end_ns or 0) == "2026-09-29T12:00:30Z"
    assert sequence.resources == (("my-camera", "GetImages"),)
    assert sequence.tags == ("demo-1",)


def test_an_open_sequence_has_gos_zero_end_time() -> None:
    text = SequenceFile(5 * NS, None, (("cam", "GetImages"),), ()).to_json_bytes().decode()
    assert '"end_time": "0001-01-01T00:00:00Z"' in text
    assert "sequence_tags" not in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{nope", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"start_time": "yesterday"}', "start_time: not an RFC 3339 time"),
        (b'{"start_time": "2026-02-30T00:00:00Z"}', "start_time: not a valid time"),
        (
            b'{"start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z",'
            b' "resources": [{"resource_name": "a", "method_name": "b"}]}',
            "end_time is before start_time",
        ),
        (b'{"start_time": "2026-01-01T00:00:00Z", "resources": []}', "resources: expected"),
        (
            b'{"start_time": "2026-01-01T00:00:00Z", "resources": [{"resource_name": "a"}]}',
            "resources[0]: needs resource_name and method_name",
        ),
    ],
)
def test_a_bad_file_names_itself_and_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(StorageError) as caught:
        parse_sequence_file(data, "/capture/sequences/x.seq")
    assert str(caught.value).startswith("/capture/sequences/x.seq: ")
    assert message in str(caught.value)


def simfs() -> SimFS:
    return SimFS(capacity_bytes=1 << 20, rng=RngTree(3), wall_clock=lambda: 0)


def test_a_written_sequence_survives_a_power_cut_whole() -> None:
    fs = simfs()
    sequence = SequenceFile(NS, 2 * NS, (("cam", "GetImages"),), ("t",))
    write_sequence_file(fs, "/capture/sequences/a.seq", sequence)
    fs.crash()
    assert fs.listdir("/capture/sequences") == ["a.seq"]
    data = fs.open_read("/capture/sequences/a.seq").read()
    assert parse_sequence_file(data, "a.seq") == sequence


def test_recovery_removes_strays_and_quarantines_sequences_left_open() -> None:
    fs = simfs()
    closed = SequenceFile(NS, 2 * NS, (("cam", "GetImages"),), ())
    opened = SequenceFile(3 * NS, None, (("cam", "GetImages"),), ())
    write_sequence_file(fs, "/capture/sequences/done.seq", closed)
    write_sequence_file(fs, "/capture/sequences/done.progseq", opened)  # closed just before a crash
    write_sequence_file(fs, "/capture/sequences/cut.progseq", opened)
    fs.open_append("/capture/sequences/half.seq.tmp").close()
    report = recover_sequences(fs, CAPTURE)
    assert sorted(report.removed) == [
        "/capture/sequences/done.progseq",
        "/capture/sequences/half.seq.tmp",
    ]
    ((where, reason),) = report.quarantined
    assert where == "/capture/failed/sequences/cut.progseq"
    assert "end time is unknown" in reason
    assert fs.listdir("/capture/sequences") == ["done.seq"]
    assert fs.exists(where + REASON_SUFFIX)
    assert recover_sequences(simfs(), CAPTURE).removed == ()  # no sequences/ at all


def test_a_disk_error_during_recovery_is_reported_and_the_rest_goes_on() -> None:
    fs = simfs()
    opened = SequenceFile(3 * NS, None, (("cam", "GetImages"),), ())
    write_sequence_file(fs, "/capture/sequences/cut.progseq", opened)
    fs.open_append("/capture/sequences/half.seq.tmp").close()
    fs.inject_eio(prefix="/capture/sequences", ops=["unlink"], fault_id="eio")
    report = recover_sequences(fs, CAPTURE)
    ((path, error),) = report.errors
    assert path == "/capture/sequences/half.seq.tmp"
    assert "injected I/O error" in error
    assert [where for where, _ in report.quarantined] == ["/capture/failed/sequences/cut.progseq"]
