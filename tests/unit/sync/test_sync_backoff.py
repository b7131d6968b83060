"""Backoff: rdk's ceilings, caps, offline interval, and jitter bounds."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.config import DATA_MANAGER_ATTRIBUTES
from dmsim.errors import ConfigError
from dmsim.runtime import RngTree
from dmsim.sync import BackoffPolicy, ErrorClass, backoff_ceiling, next_wait
from dmsim.sync import _backoff as backoff_module


class Fixed:
    """A random source that always returns the same draw."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_ceilings_match_rdk_constants() -> None:
    ceilings = [backoff_ceiling(n, ErrorClass.RETRYABLE) for n in range(1, 8)]
    assert ceilings == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8])
    assert backoff_ceiling(15, ErrorClass.RETRYABLE) == pytest.approx(0.2 * 2**14)
    assert backoff_ceiling(16, ErrorClass.RETRYABLE) == 3600.0  # 0.2 * 2**15 > 1 h
    assert backoff_ceiling(10_000, ErrorClass.RETRYABLE) == 3600.0  # no float overflow


def test_offline_waits_the_fixed_interval_whatever_the_attempt() -> None:
    assert {backoff_ceiling(n, ErrorClass.OFFLINE) for n in (1, 5, 500)} == {60.0}


def test_no_jitter_reproduces_rdk_exactly() -> None:
    rdk = BackoffPolicy(jitter=0.0)
    assert next_wait(1, ErrorClass.RETRYABLE, Fixed(0.999), rdk) == pytest.approx(0.2)
    assert next_wait(3, ErrorClass.OFFLINE, Fixed(0.5), rdk) == 60.0


def test_full_jitter_spans_the_whole_interval() -> None:
    assert next_wait(1, ErrorClass.RETRYABLE, Fixed(0.0)) == pytest.approx(0.2)
    assert next_wait(1, ErrorClass.RETRYABLE, Fixed(0.75)) == pytest.approx(0.05)
    assert next_wait(20, ErrorClass.OFFLINE, Fixed(0.5)) == pytest.approx(30.0)


def test_the_doc_states_the_jitter_a_data_manager_runs_with() -> None:
    """Regression: the doc called full jitter (1) the default, but a machine config's
    ``sync_backoff_jitter`` defaults to 0.1; only a policy built without a config has 1."""
    doc = " ".join((backoff_module.__doc__ or "").split())
    jitter = next(s for s in DATA_MANAGER_ATTRIBUTES if s.name == "sync_backoff_jitter")
    assert f"``sync_backoff_jitter`` attribute (default {jitter.default})" in doc
    assert "(the default)" not in doc
    assert BackoffPolicy().jitter == 1.0


@pytest.mark.parametrize("error_class", [ErrorClass.TERMINAL, ErrorClass.GONE])
def test_errors_that_never_retry_have_no_wait(error_class: ErrorClass) -> None:
    with pytest.raises(ValueError, match="never retried"):
        backoff_ceiling(1, error_class)


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        backoff_ceiling(0, ErrorClass.RETRYABLE)


@given(st.integers(1, 5000), st.integers(1, 5000))
def test_ceiling_is_monotonic_and_capped(a: int, b: int) -> None:
    low, high = sorted((a, b))
    c_low = backoff_ceiling(low, ErrorClass.RETRYABLE)
    c_high = backoff_ceiling(high, ErrorClass.RETRYABLE)
    assert 0.2 <= c_low <= c_high <= 3600.0


@given(
    st.integers(1, 200),
    st.sampled_from([ErrorClass.RETRYABLE, ErrorClass.OFFLINE]),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0, exclude_max=True),
)
def test_jittered_wait_stays_within_its_bounds(
    attempt: int, error_class: ErrorClass, jitter: float, draw: float
) -> None:
    policy = BackoffPolicy(jitter=jitter)
    ceiling = backoff_ceiling(attempt, error_class, policy)
    wait = next_wait(attempt, error_class, Fixed(draw), policy)
    assert 0.0 < wait <= ceiling
    assert wait >= ceiling * (1.0 - jitter) - 1e-12


def test_jitter_is_seeded_and_spreads_a_fleet() -> None:
    def fleet(seed: int) -> list[float]:
        return [
            next_wait(1, ErrorClass.OFFLINE, RngTree(seed).child(f"robot{i}").random())
            for i in range(200)
        ]

    assert fleet(3) == fleet(3)
    waits = fleet(3)
    # Full jitter: a fleet that failed together comes back spread over the whole minute.
    assert min(waits) < 10.0
    assert max(waits) > 50.0
    assert len({round(w, 3) for w in waits}) > 150


def test_a_seeded_random_source_gives_a_repeatable_schedule() -> None:
    first = [next_wait(n, ErrorClass.RETRYABLE, random.Random(9)) for n in range(1, 30)]
    second = [next_wait(n, ErrorClass.RETRYABLE, random.Random(9)) for n in range(1, 30)]
    assert first == second


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"initial_s": 0.0}, "initial_s"),
        ({"factor": 0.5}, "factor"),
        ({"cap_s": float("inf")}, "cap_s"),
        ({"jitter": 1.5}, "jitter"),
        ({"cap_s": 0.1}, "cap_s"),
        ({"offline_s": -1.0}, "offline_s"),
    ],
)
def test_bad_policies_are_refused_by_name(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        BackoffPolicy(**kwargs)


def test_factor_one_is_a_constant_wait() -> None:
    policy = BackoffPolicy(factor=1.0, jitter=0.0, initial_s=0.05)
    assert [next_wait(n, ErrorClass.RETRYABLE, Fixed(0), policy) for n in (1, 9)] == [0.05, 0.05]
