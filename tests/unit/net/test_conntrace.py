"""Connectivity traces: CSV and JSON, numeric and ISO times, precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import ScenarioError
from dmsim.net import ConnectivityRow, load_connectivity_trace, parse_connectivity_trace

CSV = """\
# modem log, exported
time,state,bandwidth,latency,bandwidth_up
0,up,125000,0.04,
30.5,down,,,
45,online,250000,,50000
"""


def test_csv_rows_with_comments_and_empty_cells() -> None:
    rows = parse_connectivity_trace(CSV, fmt="csv")
    assert rows == [
        ConnectivityRow(0.0, True, 125000.0, 125000.0, 0.04, None),
        ConnectivityRow(30.5, False),
        ConnectivityRow(45.0, True, 50000.0, 250000.0, None, None),
    ]


def test_json_with_iso_times_relative_to_the_first_row_and_an_offset() -> None:
    text = json.dumps(
        {
            "rows": [
                {"time": "2024-05-01T12:00:00Z", "state": True, "latency": 0.3},
                {"time": "2024-05-01T12:01:30Z", "state": "down"},
            ]
        }
    )
    rows = parse_connectivity_trace(text, fmt="json", time_offset=100.0)
    assert [(r.time, r.up, r.latency) for r in rows] == [(100.0, True, 0.3), (190.0, False, None)]


def test_load_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "modem.csv"
    path.write_text(CSV)
    assert len(load_connectivity_trace(path)) == 3
    with pytest.raises(ScenarioError, match=r"must be \.csv or \.json"):
        load_connectivity_trace(tmp_path / "modem.txt")


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("time,state\n0,up\n0,down\n", "csv", r"rows\[1\]\.time \(line 3\): times must increase"),
        ("time,state\n0,sideways\n", "csv", r"rows\[0\]\.state \(line 2\): must be up or down"),
        ("time,state,bandwidth\n0,up,0\n", "csv", r"bandwidth \(line 2\): must be a number > 0"),
        ("time,state,loss\n0,up,2\n", "csv", r"rows\[0\]\.loss.*<= 1"),
        ("time,state,speed\n0,up,1\n", "csv", r"header \(line 1\): unknown column 'speed'"),
        ("time\n0\n", "csv", r"missing column 'state'"),
        ("time,state\n0,up,extra\n", "csv", r"expected 2 cells, got 3"),
        ("time,state\n", "csv", "the trace has no rows"),
        ('[{"time": 0, "state": "up", "rate": 1}]', "json", r"unknown key\(s\) \['rate'\]"),
        ('[{"time": "2024-01-01T00:00:00", "state": "up"}, {"time": 5, "state": "up"}]', "json",
         "mix of ISO-8601 and numeric"),
        ('{"time": 0}', "json", "expected a list of rows"),
        ("[1,", "json", r"\(line 1, column 4\): invalid JSON"),
        ("time,state\n-5,up\n", "csv", r"must be a number >= 0"),
    ],
)  # fmt: skip
def test_errors_name_the_row_and_field(text: str, fmt: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_connectivity_trace(text, fmt=fmt)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_connectivity_trace("time,state,latency\n0,maybe,-1\nx,up,\n", fmt="csv")
    paths = [p.path for p in caught.value.problems]
    assert paths == ["rows[1].time", "rows[0].state", "rows[0].latency"]
    assert "not seconds or an ISO-8601 time: 'x'" in str(caught.value)


@given(
    st.lists(
        st.tuples(
            st.floats(0, 1e5, allow_nan=False),
            st.booleans(),
            st.none() | st.floats(1, 1e9),
            st.none() | st.floats(0, 10),
        ),
        min_size=1,
        max_size=20,
        unique_by=lambda r: r[0],
    )
)
def test_csv_round_trip(rows: list[tuple[float, bool, float | None, float | None]]) -> None:
    rows = sorted(rows)
    lines = ["time,state,bandwidth,latency"] + [
        f"{t!r},{'up' if up else 'down'},{'' if bw is None else repr(bw)},"
        f"{'' if lat is None else repr(lat)}"
        for t, up, bw, lat in rows
    ]
    parsed = parse_connectivity_trace("\n".join(lines), fmt="csv")
    assert [(r.time, r.up, r.bandwidth_up, r.bandwidth_down, r.latency) for r in parsed] == [
        (t, up, bw, bw, lat) for t, up, bw, lat in rows
    ]
