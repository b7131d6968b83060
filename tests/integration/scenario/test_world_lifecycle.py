"""The world's process lifecycle: one dmsim process at a time, whatever the fault schedule."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.integration.scenario.probe_machine import probe_machine

from dmsim.faults import FaultSchedule, FaultStep
from dmsim.scenario import Verdict, WorldResult, fuzz_expectations, judge, loads_scenario
from dmsim.scenario._world import World

DOC = "name: lifecycle\nseed: 2\nduration: 10m" + probe_machine(1, sync_interval_mins=0.1)
# Overlapping process faults: the scenario loader refuses these in files, but generated and
# shrunk schedules reach the world directly, so the world must stay sane on its own.
FAULTS = FaultSchedule((
    FaultStep(at=100.0, kind="crash", params={"restart_after": 60.0}, fault_id="f1"),
    FaultStep(at=110.0, kind="crash", params={"restart_after": 5.0}, fault_id="f2"),
    FaultStep(at=300.0, kind="clean_restart", params={"restart_after": 30.0}, fault_id="f3"),
    FaultStep(at=310.0, kind="crash", params={"restart_after": 1.0}, fault_id="f4"),
    FaultStep(at=590.0, kind="crash", params={"restart_after": 300.0}, fault_id="f5"),
))  # fmt: skip


def test_crashes_while_down_start_no_second_process() -> None:
    """Regression: a crash fault while the process was already down still scheduled a restart,
    so two restarts started two data managers on one disk."""
    world = World(loads_scenario(DOC, source="lifecycle").with_faults(FAULTS), seed=2)
    result = world.run(progress=None)
    events = [(e.time, e.kind) for e in result.trace.of_kind(
        "process.crash", "process.stop", "process.restart")]  # fmt: skip
    assert events == [
        (100.0, "process.crash"),
        (160.0, "process.restart"),
        (300.0, "process.stop"),
        (330.0, "process.restart"),
        (590.0, "process.crash"),
        (600.0, "process.restart"),  # the final drain boots the machine once more
    ]


# A disk refusing every write from 50 s: a clean stop drains the queues to it and waits.
WRITES_REFUSED = FaultStep(
    at=50.0, kind="disk_eio", duration=120.0, fault_id="f1",
    params={"ops": ["write"], "probability": 1.0},
)  # fmt: skip


def judged(*faults: FaultStep) -> tuple[WorldResult, Verdict]:
    """The lifecycle machine under ``faults``, judged as the fuzzer judges."""
    scenario = loads_scenario(DOC, source="lifecycle").with_faults(FaultSchedule(faults))
    result = World(scenario, seed=2).run(progress=None)
    return result, judge(result, fuzz_expectations(scenario))


def lifecycle_events(result: WorldResult) -> list[tuple[float, str, int]]:
    kinds = ("process.stopping", "process.stop", "process.crash", "process.restart")
    return [(e.time, e.kind, e.fields["boot"]) for e in result.trace.of_kind(*kinds)]


def test_a_crash_during_a_clean_stop_cuts_the_stop_short() -> None:
    """A stop waiting out a refusing disk, then a crash (a service manager's stop timeout
    sending SIGKILL): the crash happens at its own time, not once the stop is over, and the
    machine boots once, after the crash's delay. Regression: faults were applied one after
    another, so the crash waited for the stop and then found no process to crash."""
    result, verdict = judged(
        WRITES_REFUSED,
        FaultStep(at=60.0, kind="clean_restart", params={"restart_after": 10.0}, fault_id="f2"),
        FaultStep(at=70.0, kind="crash", params={"restart_after": 5.0}, fault_id="f3"),
    )
    assert lifecycle_events(result)[:3] == [
        (60.0, "process.stopping", 0),
        (70.0, "process.crash", 0),
        (75.0, "process.restart", 1),
    ]
    assert verdict.passed, verdict.summary()


def test_a_clean_stop_during_a_reconfigure_cancels_it_as_dmsim_machine_does() -> None:
    """A stop asked while the machine applies a config edit (its retiring collector waits
    out a refusing disk) begins at once: the edit is abandoned, as `dmsim machine` stops its
    reload on SIGTERM, and the next boot starts with the edited config."""
    slower = {"changes": [{"resource": "probe", "method": "Readings", "capture_frequency_hz": 0.5}]}
    result, verdict = judged(
        WRITES_REFUSED,
        FaultStep(at=60.0, kind="reconfigure", params=slower, fault_id="f2"),
        FaultStep(at=62.0, kind="clean_restart", params={"restart_after": 1.0}, fault_id="f3"),
    )
    events = lifecycle_events(result)
    assert events[0] == (62.0, "process.stopping", 0)
    assert [kind for _, kind, _ in events[1:3]] == ["process.stop", "process.restart"]
    assert verdict.passed, verdict.summary()
    boot_1 = [e.time for e in result.trace.of_kind("reading.captured") if e.fields["boot"] == 1]
    assert boot_1, "the machine captured nothing after its restart"
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(boot_1)}
    assert gaps == {2.0}  # the edited rate, from the first reading of the new boot


def test_a_config_edit_during_a_clean_stop_waits_for_the_next_boot() -> None:
    """An edit arriving while the machine stops is not applied by the stopping process
    (whose reload has ended); the next boot starts with it, and until then the judge holds
    readings to the looser of the two promises."""
    tighter = {"data_manager": {"durability_window_ms": 250}}
    result, verdict = judged(
        WRITES_REFUSED,
        FaultStep(at=60.0, kind="clean_restart", params={"restart_after": 5.0}, fault_id="f2"),
        FaultStep(at=70.0, kind="reconfigure", params=tighter, fault_id="f3"),
    )
    assert verdict.passed, verdict.summary()
    stop = next(e.time for e in result.trace.of_kind("process.stop"))
    promises = [(e.time, e.fields["durability_window_s"]) for e in result.trace.of_kind(
        "world.promise")]  # fmt: skip
    assert promises == [(0.0, 1.0), (stop + 5.0, 0.25)]


def _process_fault(index: int) -> st.SearchStrategy[FaultStep]:
    at = st.integers(1, 1180).map(lambda half_seconds: half_seconds / 2)
    restart_after = st.sampled_from([0.0, 1.0, 5.0, 30.0])
    edits = st.sampled_from([
        {"changes": [{"resource": "probe", "method": "Readings", "capture_frequency_hz": hz}]}
        for hz in (0.5, 2.0)
    ] + [{"data_manager": {"durability_window_ms": ms}} for ms in (250, 5000)])  # fmt: skip
    fault_id = f"f{index + 1}"
    return st.one_of(
        st.builds(lambda t, r: FaultStep(at=t, kind="crash", params={"restart_after": r},
                                         fault_id=fault_id), at, restart_after),
        st.builds(lambda t, r: FaultStep(at=t, kind="clean_restart", params={"restart_after": r},
                                         fault_id=fault_id), at, restart_after),
        st.builds(lambda t, p: FaultStep(at=t, kind="reconfigure", params=p, fault_id=fault_id),
                  at, edits),
        st.builds(lambda t, d: FaultStep(at=t, kind="disk_eio", duration=d, fault_id=fault_id,
                                         params={"ops": ["write"], "probability": 1.0}),
                  at, st.sampled_from([5.0, 30.0, 90.0])),
    )  # fmt: skip


@st.composite
def overlapping_process_faults(draw: st.DrawFn) -> tuple[FaultStep, ...]:
    count = draw(st.integers(1, 6))
    return tuple(draw(_process_fault(index)) for index in range(count))


@settings(max_examples=settings.default.max_examples // 5, deadline=None)
@given(overlapping_process_faults())
def test_process_faults_at_any_moment_keep_one_process_and_every_reading_explained(
    faults: tuple[FaultStep, ...],
) -> None:
    """Crashes, clean restarts and reconfigures landing on each other (during a stop waiting
    out a refusing disk, during an edit being applied, while the process is down): one process
    at a time, each boot started once and ended once (stopped, or crashed, even while
    stopping), and the judge explains every reading."""
    result, verdict = judged(*sorted(faults, key=lambda step: step.at))
    running: int | None = 0
    stopping = False
    for _, kind, boot in lifecycle_events(result):
        if kind == "process.restart":
            assert running is None, f"boot {boot} started while boot {running} ran"
            running, stopping = boot, False
        else:
            assert boot == running, f"{kind} of boot {boot}, but boot {running} runs"
            assert kind != "process.stop" or stopping, "stopped without being asked"
            assert not (kind == "process.stopping" and stopping), "asked to stop twice"
            stopping = kind == "process.stopping"
            if kind in ("process.stop", "process.crash"):
                running = None
    assert verdict.passed, verdict.summary()
