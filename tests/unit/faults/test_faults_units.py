"""Durations and sizes as written in scenario files."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.faults import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("24h", 86400.0),
        ("7d", 604800.0),
        ("250ms", 0.25),
        ("1h30m", 5400.0),
        (" 2m 30s ", 150.0),
        ("1.5s", 1.5),
        (45, 45.0),
        (0.5, 0.5),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["90 sec", "", "s", "1x", "-5s", -1, True, None, [], "1e3s", "nan"])
def test_parse_duration_rejects(bad: object) -> None:
    assert parse_duration(bad) is None


def test_signed_duration() -> None:
    assert parse_duration("-1h", signed=True) == -3600.0
    assert parse_duration(-2.5, signed=True) == -2.5
    assert parse_duration(float("inf"), signed=True) is None


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [("64MiB", 64 * 2**20), ("2GB", 2 * 10**9), ("4096", 4096), (4096, 4096), ("1.5KiB", 1536)],
)
def test_parse_size(text: object, nbytes: int) -> None:
    assert parse_size(text) == nbytes


@pytest.mark.parametrize("bad", ["64 MiBs", "-1", -1, "1.3B", 1.5, True, None, "lots"])
def test_parse_size_rejects(bad: object) -> None:
    assert parse_size(bad) is None


@given(st.integers(0, 10**9).map(lambda ms: ms / 1000))
def test_duration_round_trip(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@given(st.integers(-(10**7), 10**7))
def test_signed_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds), signed=True) == seconds


@given(st.integers(0, 2**45))
def test_size_round_trip(nbytes: int) -> None:
    assert parse_size(format_size(nbytes)) == nbytes


def test_format_picks_biggest_exact_unit() -> None:
    assert format_duration(5400) == "90m"
    assert format_duration(86400 * 2) == "2d"
    assert format_duration(1.5) == "1.5s"
    assert format_duration(0.25) == "0.25s"
    assert format_size(64 * 2**20) == "64MiB"
    assert format_size(1000) == 1000
