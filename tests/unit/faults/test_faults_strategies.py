"""Generated schedules stay inside the promised envelope."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from dmsim.faults import (
    DEFAULT_ENVELOPE_KINDS,
    KINDS,
    RPC_NAMES,
    CaptureMethodRef,
    Envelope,
    FaultSchedule,
    FaultStep,
    ServiceSetting,
    fault_schedules,
)

ENVELOPE = Envelope(
    max_faults=6,
    max_window_s=300.0,
    max_restart_after_s=20.0,
    max_disk_fill_bytes=64 * 2**20,
    quiet_tail_s=600.0,
    pausing_codes=frozenset({"UNAVAILABLE", "UNAUTHENTICATED"}),
    pause_s=60.0,
    stop_s=60.0,
    components=("cam", "arm"),
    capture_methods=(CaptureMethodRef("cam", "NextPointCloud", 30.0),),
    data_manager_settings=(
        ServiceSetting("durability_window_ms", (0, 5000)),
        ServiceSetting("maximum_num_sync_threads", (1, 4)),
        ServiceSetting("capture_disabled", (True, False), rare=True),
        ServiceSetting("sync_disabled", (True, False), rare=True),
    ),
)
RARE = {s.attribute for s in ENVELOPE.data_manager_settings if s.rare}
DURATION = 3600.0
SETTINGS = {s.attribute: s.values for s in ENVELOPE.data_manager_settings}

T = TypeVar("T")
EXAMPLE_SEARCH = settings(
    derandomize=True, database=None, phases=[Phase.generate], max_examples=2000
)


def example(strategy: st.SearchStrategy[T], condition: Callable[[T], bool]) -> T:
    """The first example of ``strategy`` meeting ``condition``, the same on every machine:
    derandomized, without the example database (in a working tree it replays old finds and
    hid a generator that no longer made them) and unshrunk (one is needed, not the least)."""
    return find(strategy, condition, settings=EXAMPLE_SEARCH)


@settings(max_examples=100)
@given(fault_schedules(duration=DURATION, envelope=ENVELOPE))
def test_schedules_stay_inside_the_envelope(schedule: FaultSchedule) -> None:
    assert len(schedule) <= ENVELOPE.max_faults
    down_until = -1.0
    for step in schedule:
        assert step.kind in ENVELOPE.kinds
        assert step.at >= 0
        assert math.isfinite(step.end)
        assert step.end <= DURATION - ENVELOPE.quiet_tail_s
        if step.duration is not None:
            assert ENVELOPE.min_window_s <= step.duration <= ENVELOPE.max_window_s
        if step.kind in ("crash", "clean_restart"):
            assert step.params["restart_after"] <= ENVELOPE.max_restart_after_s
        if step.kind == "clean_restart":  # its stop may take that long before the delay
            assert step.end + ENVELOPE.stop_s <= DURATION - ENVELOPE.quiet_tail_s
        if step.kind == "latency":
            worst = step.params["seconds"] + step.params.get("jitter", 0.0)
            assert worst <= ENVELOPE.max_latency_s
        if "direction" in step.params:
            assert step.params["direction"] in ("upstream", "downstream")
        if step.kind == "reconfigure":
            assert step.params.get("changes") or step.params.get("data_manager")
            attributes = step.params.get("data_manager", {})
            for name, value in attributes.items():
                assert value in SETTINGS[name]
            if attributes and not set(attributes) - RARE:  # alone: restoring an earlier one
                assert all(value is False for value in attributes.values())
                assert any(
                    earlier.at <= step.at and earlier.params.get("data_manager", {}).get(name)
                    for earlier in schedule
                    if earlier.fault_id != step.fault_id
                    for name in attributes
                )
            for change in step.params.get("changes", ()):
                assert change.get("disabled", False) in (True, False)
                assert "capture_frequency_hz" in change
        if step.kind == "rpc_reject":
            assert step.params["code"] in ENVELOPE.rpc_codes
            if step.params["code"] in ENVELOPE.pausing_codes:  # the pause ends before the tail
                assert step.end + ENVELOPE.pause_s <= DURATION - ENVELOPE.quiet_tail_s
        if "rpcs" in step.params:
            named = list(step.params["rpcs"])
            assert named == sorted(set(named), key=RPC_NAMES.index)
        if step.group == "device":
            assert step.params["component"] in ENVELOPE.components
        if step.group == "process":
            assert step.at >= down_until
            down_until = step.end


def test_network_faults_come_with_jitter_and_in_one_direction_too() -> None:
    network = Envelope(kinds=frozenset({"latency", "loss", "bandwidth", "reset_after_bytes"}))
    schedules = fault_schedules(duration=DURATION, envelope=network)

    def has(test: Callable[[FaultStep], bool]) -> Callable[[FaultSchedule], bool]:
        return lambda schedule: any(test(step) for step in schedule)

    example(schedules, has(lambda step: "jitter" in step.params))
    example(schedules, has(lambda step: step.params.get("direction") == "downstream"))
    example(schedules, has(lambda step: step.kind == "loss" and "direction" not in step.params))


RPC_KINDS = frozenset(
    kind for kind, spec in KINDS.items() if spec.group == "rpc" and spec.param("rpcs")
)


def test_rpc_faults_hit_every_rpc_or_only_some() -> None:
    schedules = fault_schedules(duration=DURATION, envelope=Envelope(kinds=RPC_KINDS))

    def has(test: Callable[[FaultStep], bool]) -> Callable[[FaultSchedule], bool]:
        return lambda schedule: any(test(step) for step in schedule)

    example(schedules, has(lambda step: "rpcs" not in step.params))
    example(schedules, has(lambda step: tuple(step.params.get("rpcs", ())) == ("CreateSequence",)))


@given(st.data())
def test_an_envelope_naming_rpcs_aims_every_rpc_fault_at_them(data: st.DataObject) -> None:
    aimed = Envelope(kinds=RPC_KINDS | {"cloud_storage_full"}, rpcs=("CreateSequence",))
    for step in data.draw(fault_schedules(duration=DURATION, envelope=aimed)):
        if step.kind != "cloud_storage_full":  # the cloud's storage is full for every RPC
            assert tuple(step.params["rpcs"]) == ("CreateSequence",)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rpcs": ("Upload",)}, "envelope rpcs: unknown 'Upload'"),
        ({"rpcs": ()}, "envelope rpcs: expected a non-empty list"),
        ({"rpc_codes": ("OK",)}, "envelope rpc_codes: unknown 'OK'"),
        ({"kinds": frozenset({"meteor"})}, "envelope kinds: unknown 'meteor'"),
        ({"pausing_codes": frozenset({"OFFLINE"})}, "envelope pausing_codes: unknown 'OFFLINE'"),
        ({"pause_s": -1.0}, "envelope pause_s: must be >= 0, got -1.0"),
        ({"stop_s": -1.0}, "envelope stop_s: must be >= 0, got -1.0"),
    ],
)
def test_an_envelope_names_what_it_cannot_generate(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Envelope(**fields)


@given(st.data())
def test_a_rejection_that_pauses_every_upload_ends_a_pause_before_the_quiet_tail(
    data: st.DataObject,
) -> None:
    """The machine waits its offline interval after such an answer, so the window ends that
    much earlier; with no room for the pause, only the codes that do not pause are drawn."""
    rejects = Envelope(
        kinds=frozenset({"rpc_reject"}),
        quiet_tail_s=40.0,
        pausing_codes=frozenset({"UNAVAILABLE", "UNAUTHENTICATED"}),
        pause_s=60.0,
    )
    for step in data.draw(fault_schedules(duration=300.0, envelope=rejects)):
        if step.params["code"] in rejects.pausing_codes:
            assert step.end <= 300.0 - 40.0 - 60.0
    for step in data.draw(fault_schedules(duration=100.0, envelope=rejects)):
        assert step.params["code"] in ("RESOURCE_EXHAUSTED", "INTERNAL")


def test_default_envelope_leaves_out_faults_beyond_the_promise() -> None:
    assert "disk_append_garbage" not in DEFAULT_ENVELOPE_KINDS
    assert "INVALID_ARGUMENT" not in Envelope().rpc_codes
    bare = Envelope()
    usable = bare.usable_kinds()
    assert not any(KINDS[k].group in ("device", "reconfigure") for k in usable)
    assert "disk_fill" not in usable


def test_a_reconfigure_may_change_the_data_manager_alone_or_with_capture() -> None:
    envelope = Envelope(
        kinds=frozenset({"reconfigure"}),
        quiet_tail_s=60,
        data_manager_settings=ENVELOPE.data_manager_settings,
    )
    assert envelope.usable_kinds() == ("reconfigure",)  # no capture method needed
    steps = fault_schedules(duration=600.0, envelope=envelope)
    only = example(steps, lambda s: any(len(step.params["data_manager"]) == 2 for step in s))
    assert all(set(step.params) == {"data_manager"} for step in only)
    both = example(
        fault_schedules(duration=DURATION, envelope=ENVELOPE),
        lambda s: any(set(step.params) == {"changes", "data_manager"} for step in s),
    )
    assert both


RECONFIGURES = replace(ENVELOPE, kinds=frozenset({"reconfigure"}))


def test_a_config_is_edited_while_the_machine_is_off_too() -> None:
    """A reconfigure while the process is down (the next boot reads it); a crash or restart
    then is dropped, as it would have nothing to act on."""
    envelope = replace(
        ENVELOPE, kinds=frozenset({"crash", "reconfigure"}), max_restart_after_s=600.0
    )

    def edited_while_down(schedule: FaultSchedule) -> bool:
        crashes = [s for s in schedule if s.kind == "crash"]
        return any(
            c.at < s.at < c.end for c in crashes for s in schedule if s.kind == "reconfigure"
        )

    assert example(fault_schedules(duration=DURATION, envelope=envelope), edited_while_down)


def switches(schedule: FaultSchedule) -> tuple[list[bool], list[bool]]:
    """Capture turned off or on, for the whole part and for one method, in order."""
    whole = [s.params.get("data_manager", {}).get("capture_disabled") for s in schedule]
    methods = [c.get("disabled") for s in schedule for c in s.params.get("changes", ())]
    return [v for v in whole if v is not None], [v for v in methods if v is not None]


def test_a_reconfigure_now_and_then_turns_capture_off_and_on_again() -> None:
    reconfigures = fault_schedules(duration=DURATION, envelope=RECONFIGURES)
    assert example(reconfigures, lambda s: switches(s)[0] == [True, False])
    per_method = example(reconfigures, lambda s: switches(s)[1] == [True, False])
    # a method switched off or on still gets a new rate, which applies once it is on
    assert all(
        "capture_frequency_hz" in c for step in per_method for c in step.params.get("changes", ())
    )


def test_turning_capture_off_is_rare_and_never_alone() -> None:
    """Capture switched off leaves later faults nothing to act on: a campaign must still
    mostly exercise a capturing machine."""
    rare_only = replace(
        RECONFIGURES,
        capture_methods=(),
        data_manager_settings=(ServiceSetting("capture_disabled", (True, False), rare=True),),
    )
    assert rare_only.usable_kinds() == ()
    counted = {"reconfigures": 0, "switching": 0}

    @settings(max_examples=300, derandomize=True, database=None)
    @given(fault_schedules(duration=DURATION, envelope=RECONFIGURES))
    def count(schedule: FaultSchedule) -> None:
        counted["reconfigures"] += len(schedule)
        for step in schedule:
            whole, methods = switches(FaultSchedule((step,)))
            counted["switching"] += bool(whole or methods)

    count()
    assert counted["reconfigures"] > 200
    assert 0 < counted["switching"] < counted["reconfigures"] / 3, counted


def test_scheduled_sync_turned_off_is_often_turned_on_again() -> None:
    """A later reconfigure restores a rare setting in about half the schedules that change
    it: two rare draws in one schedule were too rare, so runs that turned sync off left it
    off and were never held to draining once it was back on."""
    counted = {"turned_off": 0, "on_again": 0}

    @settings(max_examples=400, derandomize=True, database=None)
    @given(fault_schedules(duration=DURATION, envelope=RECONFIGURES))
    def count(schedule: FaultSchedule) -> None:
        values = [s.params.get("data_manager", {}).get("sync_disabled") for s in schedule]
        toggles = [v for v in values if v is not None]
        if True in toggles:
            counted["turned_off"] += 1
            counted["on_again"] += toggles[-1] is False

    count()
    assert counted["turned_off"] > 20, counted
    assert counted["on_again"] >= 0.4 * counted["turned_off"], counted


@given(st.data())
def test_no_room_means_no_faults(data: st.DataObject) -> None:
    tiny = data.draw(fault_schedules(duration=10.0, envelope=Envelope(quiet_tail_s=9.5)))
    assert len(tiny) == 0


@given(st.data())
def test_only_allowed_kinds(data: st.DataObject) -> None:
    env = Envelope(kinds=frozenset({"link_down", "crash"}), max_faults=3)
    for step in data.draw(fault_schedules(duration=600.0, envelope=env)):
        assert step.kind in {"link_down", "crash"}


@settings(max_examples=50)
@given(fault_schedules(duration=DURATION, envelope=ENVELOPE, min_faults=1))
def test_a_minimum_of_faults_is_honoured(schedule: FaultSchedule) -> None:
    # a dropped overlapping process fault never takes the first one with it
    assert 1 <= len(schedule) <= ENVELOPE.max_faults


def test_a_minimum_beyond_the_envelope_is_refused() -> None:
    with pytest.raises(ValueError, match=r"min_faults 7 is not within 0\.\.6"):
        fault_schedules(duration=DURATION, envelope=ENVELOPE, min_faults=7)


@given(st.data())
def test_a_clean_restart_leaves_room_for_its_stop_before_the_quiet_tail(
    data: st.DataObject,
) -> None:
    """A stop may wait for a refusing disk (a shutdown gives up after a minute) before the
    restart delay begins, and the backlog drains only once the process is back. Regression:
    a restart 3.6 s after a stop at 131.1 s came back 0.5 s past the quiet tail's start, and
    the judge could not measure the drain ("lengthen the scenario")."""
    restarts = Envelope(kinds=frozenset({"clean_restart"}), quiet_tail_s=40.0, stop_s=60.0)
    for step in data.draw(fault_schedules(duration=300.0, envelope=restarts, min_faults=1)):
        assert step.end <= 300.0 - 40.0 - 60.0
