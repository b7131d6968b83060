"""Property-based: any mutation of a valid config gives a valid config or a clean ConfigError.

Mutations: delete a key, replace a value by one of another type, negate a number, put a random
string anywhere, nest a value deeper. Also text-level damage: truncation, byte flips and random
bytes. Never any other exception, and every reported problem names a path (and, for text, a
line and column).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.config.config_kit import loads, parse
from tests.unit.mutations import mutate

from dmsim.config import MachineConfig, collector_specs, to_effective_dict
from dmsim.config.strategies import machine_configs
from dmsim.errors import ConfigError


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    return mutate(draw, draw(machine_configs(max_components=4, max_remotes=1)))


def check(outcome: MachineConfig | ConfigError, *, located: bool = False) -> None:
    """A config that can be used, or an error whose every problem says what and where."""
    if isinstance(outcome, ConfigError):
        assert outcome.problems
        assert any(p.severity == "error" for p in outcome.problems)
        for problem in outcome.problems:
            assert problem.message
            assert problem.severity in ("error", "warning")
            if located:
                assert problem.line is not None
                assert problem.column is not None
        return
    collector_specs(outcome)
    json.dumps(to_effective_dict(outcome))


@settings(max_examples=150)
@given(mutated())
def test_mutated_configs_give_a_config_or_a_clean_error(data: Any) -> None:
    try:
        outcome: MachineConfig | ConfigError = parse(data)
    except ConfigError as error:
        outcome = error
    check(outcome)


@settings(max_examples=60)
@given(mutated())
def test_mutated_configs_as_text_locate_every_problem(data: Any) -> None:
    text = json.dumps(data, indent=1, allow_nan=True)
    try:
        outcome: MachineConfig | ConfigError = loads(text)
    except ConfigError as error:
        outcome = error
    check(outcome, located=True)


@settings(max_examples=60)
@given(machine_configs(max_components=3, max_remotes=1), st.data())
def test_damaged_bytes_give_a_config_or_a_clean_error(config: Any, data: st.DataObject) -> None:
    raw = bytearray(json.dumps(config, indent=2).encode())
    damage = data.draw(st.sampled_from(["truncate", "flip", "insert"]))
    position = data.draw(st.integers(0, len(raw)))
    if damage == "truncate":
        del raw[position:]
    elif damage == "flip" and position < len(raw):
        raw[position] ^= 1 << data.draw(st.integers(0, 7))
    else:
        raw[position:position] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        outcome: MachineConfig | ConfigError = loads(bytes(raw))
    except ConfigError as error:
        outcome = error
    check(outcome)


@given(st.binary(max_size=200))
def test_random_bytes_give_a_clean_error(raw: bytes) -> None:
    try:
        outcome: MachineConfig | ConfigError = loads(raw)
    except ConfigError as error:
        outcome = error
    check(outcome)
