"""Toxic specs and the proxy's pure decisions; proxy fault schedules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import ConfigError, ScenarioError
from dmsim.net import (
    ActionKind,
    Stream,
    ToxicType,
    applies,
    latency_seconds,
    load_proxy_schedule,
    parse_address,
    parse_proxy_schedule,
    parse_toxic,
    slice_sizes,
    update_toxic,
)


def test_toxiproxy_defaults() -> None:
    toxic = parse_toxic({"type": "latency", "attributes": {"latency": 1000}})
    assert toxic.name == "latency_downstream"
    assert toxic.stream is Stream.DOWNSTREAM
    assert toxic.toxicity == 1.0
    assert toxic.to_json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 1000, "jitter": 0},
    }
    assert parse_toxic(toxic.to_json()) == toxic


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "packet_loss"}, r"toxic\.type: unknown value 'packet_loss'"),
        ({}, r"toxic\.type: missing"),
        ({"type": "latency", "stream": "sideways"}, r"toxic\.stream: unknown value"),
        ({"type": "latency", "toxicity": 1.5}, r"toxic\.toxicity: must be a number in \[0, 1\]"),
        ({"type": "latency", "toxicity": True}, r"toxic\.toxicity"),
        ({"type": "latency", "attributes": {"latency": -1}}, r"latency: must be an integer >= 0"),
        ({"type": "latency", "attributes": {"latency": 1.5}}, r"latency: must be an integer"),
        ({"type": "latency", "attributes": {"rate": 1}}, r"attributes\.rate: unknown for latency"),
        ({"type": "bandwidth"}, r"attributes\.rate: required for bandwidth"),
        ({"type": "bandwidth", "attributes": {"rate": 0}}, r"rate: must be an integer >= 1"),
        ({"type": "slicer", "attributes": {"average_size": 10, "size_variation": 10}},
         r"size_variation: must be less than average_size"),
        ({"type": "down", "stream": "upstream"}, r"toxic\.stream: a down toxic acts on whole"),
        ({"type": "latency", "name": "a/b"}, r"toxic\.name: must be a non-empty string"),
        ({"type": "latency", "colour": "red"}, r"toxic\.colour: unknown key"),
        ("latency", r"toxic: expected a JSON object"),
    ],
)  # fmt: skip
def test_bad_toxics_name_the_field(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        parse_toxic(data)
    assert len(refused.value.problems) == 1, refused.value.problems  # only the real problem


def test_update_merges_attributes_and_refuses_identity_changes() -> None:
    toxic = parse_toxic({"type": "latency", "attributes": {"latency": 100, "jitter": 5}})
    updated = update_toxic(toxic, {"toxicity": 0.5, "attributes": {"latency": 300}})
    assert updated.toxicity == 0.5
    assert dict(updated.attributes) == {"latency": 300, "jitter": 5}
    with pytest.raises(ConfigError, match=r"toxic\.type: cannot be changed"):
        update_toxic(toxic, {"type": "bandwidth"})
    with pytest.raises(ConfigError, match=r"attributes\.latency"):
        update_toxic(toxic, {"attributes": {"latency": "slow"}})
    assert update_toxic(toxic, {"attributes": None}) == toxic
    for attributes in ([1], "ab", [], [["latency", 5]]):
        with pytest.raises(ConfigError, match=r"toxic\.attributes: expected an object"):
            update_toxic(toxic, {"attributes": attributes})


def test_toxicity_zero_never_applies_and_one_always() -> None:
    assert not applies(0.0, 0.0)  # Toxiproxy #603: toxicity 0 still affected traffic
    assert applies(1.0, 0.999)
    assert applies(0.3, 0.29)
    assert not applies(0.3, 0.3)


def test_latency_with_jitter() -> None:
    assert latency_seconds(100, 0, 0.7) == 0.1
    assert latency_seconds(100, 20, 0.0) == pytest.approx(0.08)
    assert latency_seconds(100, 20, 0.5) == pytest.approx(0.1)
    assert latency_seconds(10, 50, 0.0) == 0.0


@given(
    total=st.integers(0, 20_000),
    average=st.integers(1, 5000),
    variation_fraction=st.floats(0, 0.999),
    seed=st.integers(0, 2**32),
)
def test_slices_cover_the_chunk(
    total: int, average: int, variation_fraction: float, seed: int
) -> None:
    variation = int(average * variation_fraction)
    if total // average > 2000:  # keep examples fast; the property does not depend on it
        total = average * 2000
    sizes = slice_sizes(total, average, variation, np.random.default_rng(seed))
    assert sum(sizes) == total
    assert all(s >= 1 for s in sizes)
    assert all(s <= average + variation for s in sizes)
    assert all(s >= average - variation for s in sizes[:-1])
    again = slice_sizes(total, average, variation, np.random.default_rng(seed))
    assert sizes == again


def test_addresses() -> None:
    assert parse_address("127.0.0.1:80", what="x") == ("127.0.0.1", 80)
    assert parse_address("[::1]:0", what="x") == ("::1", 0)
    assert parse_address(":9000", what="x") == ("127.0.0.1", 9000)
    with pytest.raises(ConfigError, match="listen: expected HOST:PORT"):
        parse_address("localhost", what="listen")
    with pytest.raises(ConfigError, match="listen: expected HOST:PORT"):
        parse_address("h:8²", what="listen")  # a digit to str.isdigit, not to int()
    with pytest.raises(ConfigError, match=r"port must be in 0\.\.65535"):
        parse_address("h:70000", what="listen")


SCHEDULE = """
- {at: 2, action: add_toxic, toxic: {type: latency, attributes: {latency: 500}}, duration: 5}
- {at: 1, action: disable}
- {at: 1.5, action: enable}
- {at: 3, action: add_toxic, toxic: {name: bw, type: bandwidth, attributes: {rate: 10}}}
- {at: 4, action: update_toxic, name: bw, toxicity: 0.5}
- {at: 9, action: reset}
"""


def test_schedule_sorted_with_durations_expanded(tmp_path: Path) -> None:
    path = tmp_path / "faults.yaml"
    path.write_text(SCHEDULE)
    actions = load_proxy_schedule(path)
    assert [
        (a.at, a.action.value, a.name or (a.toxic.name if a.toxic else None)) for a in actions
    ] == [
        (1.0, "disable", None),
        (1.5, "enable", None),
        (2.0, "add_toxic", "latency_downstream"),
        (3.0, "add_toxic", "bw"),
        (4.0, "update_toxic", "bw"),
        (7.0, "remove_toxic", "latency_downstream"),
        (9.0, "reset", None),
    ]
    assert actions[4].changes == {"toxicity": 0.5}
    assert actions[2].toxic is not None
    assert actions[2].toxic.type is ToxicType.LATENCY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([{"at": 1, "action": "explode"}], r"actions\[0\]\.action: unknown action 'explode'"),
        ([{"at": -1, "action": "reset"}], r"actions\[0\]\.at: must be a number of seconds >= 0"),
        ([{"action": "reset"}], r"actions\[0\]\.at"),
        ([{"at": 1, "action": "reset", "name": "x"}], r"actions\[0\]\.name: not allowed for reset"),
        ([{"at": 1, "action": "remove_toxic", "name": "ghost"}], r"t=1: remove_toxic: no toxic"),
        ([{"at": 1, "action": "add_toxic", "toxic": {"type": "no"}}], r"\[0\]\.toxic\.type"),
        ([{"at": 1, "action": "add_toxic", "toxic": {"type": "latency"}},
          {"at": 2, "action": "add_toxic", "toxic": {"type": "latency"}}], "already present"),
        ([{"at": 1, "action": "add_toxic", "toxic": {"type": "latency"}},
          {"at": 2, "action": "reset"},
          {"at": 3, "action": "remove_toxic", "name": "latency_downstream"}], "no toxic"),
        ({"steps": []}, "expected a list of actions"),
    ],
)  # fmt: skip
def test_bad_schedules(data: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_proxy_schedule(data)


def test_schedule_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ScenarioError, match=r"bad\.json: 1 problem"):
        load_proxy_schedule(path)
    assert ActionKind("reset") is ActionKind.RESET
