"""Fault steps and schedules: validation with precise paths, ordering, documents."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.errors import ScenarioError
from dmsim.faults import KINDS, FaultSchedule, FaultStep, fault_schedules, parse_schedule


def messages(doc: object, **kw: object) -> dict[str, str]:
    _, problems = parse_schedule(doc, **kw)  # type: ignore[arg-type]
    return {p.path: p.message for p in problems}


def test_parse_valid_schedule_normalises_units() -> None:
    schedule, problems = parse_schedule(
        [
            {"at": "2m", "kind": "loss", "duration": "1m", "probability": 0.3},
            {"at": "90s", "kind": "crash", "restart_after": "30s", "id": "boom"},
            {"at": 0, "kind": "disk_fill", "bytes": "64MiB"},
        ]
    )
    assert problems == []
    assert [s.fault_id for s in schedule] == ["f3", "boom", "f1"]  # ordered by time
    crash = schedule.steps[1]
    assert crash.params["restart_after"] == 30.0
    assert crash.end == 120.0
    assert schedule.steps[0].params["bytes"] == 64 * 2**20
    assert math.isinf(schedule.steps[0].end)  # optional window left open: until the end
    assert schedule.last_end() == math.inf


@pytest.mark.parametrize(
    ("step", "path", "fragment"),
    [
        ({"at": "90 sec", "kind": "crash", "restart_after": 1}, "faults[0].at", "like '90s'"),
        ({"at": 1, "kind": "nope"}, "faults[0].kind", "unknown fault kind 'nope'"),
        (
            {"at": 1, "kind": "link_dwn", "duration": 1},
            "faults[0].kind",
            "unknown fault kind 'link_dwn'; did you mean 'link_down'?",
        ),
        ({"at": 1, "kind": "loss", "duration": 5}, "faults[0].probability", "needs 'probability'"),
        (
            {"at": 1, "kind": "loss", "duration": 5, "probability": 2},
            "faults[0].probability",
            "must be <= 1",
        ),
        ({"at": 1, "kind": "loss", "probability": 0.1}, "faults[0].duration", "needs a duration"),
        (
            {"at": 1, "kind": "crash", "restart_after": 1, "duration": 3},
            "faults[0].duration",
            "instant",
        ),
        ({"at": 1, "kind": "crash", "restart": 1}, "faults[0].restart", "no parameter 'restart'"),
        (
            {"at": 1, "kind": "rpc_reject", "code": "NOPE"},
            "faults[0].code",
            "expected one of UNAVAILABLE",
        ),
        ({"at": 1, "kind": "clock_step", "seconds": 0}, "faults[0].seconds", "must not be zero"),
        ({"at": 1, "kind": "disk_fill", "bytes": "lots"}, "faults[0].bytes", "size like '64MiB'"),
        ({"at": 1, "kind": "reconfigure"}, "faults[0].changes", "needs 'changes'"),
        (
            {"at": 1, "kind": "reconfigure", "changes": [{"resource": "a", "method": "b"}]},
            "faults[0].changes",
            "set 'capture_frequency_hz' or 'disabled'",
        ),
        ({"at": 1, "kind": "link_down", "duration": 2, "id": "a b"}, "faults[0].id", "letters"),
        ("crash at noon", "faults[0]", "expected a mapping"),
    ],
)
def test_step_errors_name_the_field(step: object, path: str, fragment: str) -> None:
    found = messages([step])
    assert path in found, found
    assert fragment in found[path]


def test_every_problem_of_a_step_is_reported() -> None:
    found = messages([{"at": "x", "kind": "loss", "duration": "y", "probability": 7, "extra": 1}])
    assert set(found) == {
        "faults[0].at",
        "faults[0].duration",
        "faults[0].probability",
        "faults[0].extra",
    }


def test_schedule_level_problems() -> None:
    found = messages(
        [
            {"at": 10, "kind": "crash", "restart_after": 60, "id": "a"},
            {"at": 30, "kind": "clean_restart", "id": "b"},
            {"at": 40, "kind": "link_down", "duration": 100, "id": "a"},
            {"at": 500, "kind": "link_down", "duration": 1},
        ],
        run_duration=120.0,
    )
    assert "process is down" in found["faults[1].at"]
    assert "already used" in found["faults[2].id"]
    assert "after the end of the run" in found["faults[3].at"]
    edited_while_down = [
        {"at": 10, "kind": "crash", "restart_after": 60},
        {"at": 30, "kind": "reconfigure", "data_manager": {"capture_dir": "/data/elsewhere"}},
    ]
    assert messages(edited_while_down) == {}  # the next boot reads the edited config
    assert messages([{"at": 100, "kind": "link_down", "duration": 30}], run_duration=120.0) == {
        "faults[0].duration": "the fault ends at 130s, after the end of the run (2m)"
    }
    assert messages("often") == {"faults": "expected a list of faults, got 'often'"}


def test_programmatic_steps_are_validated() -> None:
    with pytest.raises(ScenarioError, match="needs 'restart_after'"):
        FaultStep(at=1.0, kind="crash")
    with pytest.raises(ScenarioError, match="unknown fault kind"):
        FaultStep(at=1.0, kind="meteor")
    with pytest.raises(ScenarioError, match="used twice"):
        FaultSchedule(
            (
                FaultStep(at=1, kind="link_down", duration=1, fault_id="x"),
                FaultStep(at=2, kind="link_down", duration=1, fault_id="x"),
            )
        )


def test_steps_are_frozen_and_hashable() -> None:
    step = FaultStep(at=1, kind="disk_eio", params={"ops": ["write"]}, duration=5)
    assert step.params["ops"] == ("write",)
    with pytest.raises(TypeError):
        step.params["ops"] = ()  # type: ignore[index]
    same = FaultStep(at=1, kind="disk_eio", params={"ops": ("write",)}, duration=5)
    assert step == same
    assert hash(step) == hash(same)
    assert len({step, same}) == 1


def test_without_and_replacing_keep_absolute_times() -> None:
    schedule, _ = parse_schedule(
        [
            {"at": 10, "kind": "link_down", "duration": 5},
            {"at": 20, "kind": "crash", "restart_after": 5},
            {"at": 30, "kind": "loss", "duration": 5, "probability": 0.5},
        ]
    )
    smaller = schedule.without(["f1"])
    assert [(s.fault_id, s.at) for s in smaller] == [("f2", 20.0), ("f3", 30.0)]
    weaker = smaller.replacing(FaultStep(at=20, kind="clean_restart", fault_id="f2"))
    assert [s.kind for s in weaker] == ["clean_restart", "loss"]


def test_every_kind_has_a_group_and_documented_params() -> None:
    groups = {spec.group for spec in KINDS.values()}
    assert groups == {
        "network", "rpc", "disk", "process", "reconfigure", "clock", "device", "operator"
    }  # fmt: skip
    assert all(spec.description for spec in KINDS.values())


@given(fault_schedules(duration=3600.0))
def test_documents_round_trip(schedule: FaultSchedule) -> None:
    parsed, problems = parse_schedule(schedule.to_document(), run_duration=3600.0)
    assert problems == []
    assert parsed == schedule
    assert parsed.canonical() == schedule.canonical()


@given(st.lists(st.sampled_from(sorted(KINDS)), max_size=4))
def test_parse_never_raises_on_partial_steps(kinds: list[str]) -> None:
    schedule, problems = parse_schedule([{"at": 1, "kind": kind} for kind in kinds])
    assert len(schedule) + len({p.path.split(".")[0] for p in problems}) == len(kinds)
