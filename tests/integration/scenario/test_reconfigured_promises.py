"""A reconfigure that changes what the machine promises (its durability window, its offline
interval, whether it syncs on schedule) mid-run: the machine keeps the new promise from then
on, and the judge holds each reading to the promise in force at the time, not to the run's
last config."""

from __future__ import annotations

from tests.integration.scenario.probe_machine import probe_machine

from dmsim.scenario import loads_scenario, run_scenario
from dmsim.scenario._world import run_world

PROMISE = {"sync_interval_mins": 0.1, "durability_window_ms": 10000}
MACHINE = probe_machine(10, **PROMISE)


def run(faults: str, expectations: str, *, machine: str = MACHINE) -> dict:
    doc = (
        f"name: promises\nseed: 3\nduration: 5m\nnetwork: {{profile: lan}}\n{machine}"
        f"faults:\n{faults}\nexpectations:\n{expectations}\n"
    )
    report = run_scenario(loads_scenario(doc, source="promises"), progress=False)
    data = report.to_json_dict()
    assert data["verdict"] == "pass", report.summary()
    return data


def drain_detail(data: dict) -> str:
    (drain,) = [e for e in data["expectations"] if e["name"] == "drain_within"]
    return str(drain["detail"])


def test_a_run_that_ends_with_scheduled_sync_off_is_not_held_to_a_drain_bound() -> None:
    """With ``sync_disabled`` the backlog waits for a manual Sync (the run's final one), as
    the config asks: no drain bound applies. Turned on again, the bound runs from then."""
    off = run(
        "  - {at: 60s, kind: reconfigure, data_manager: {sync_disabled: true}}",
        "  drain_within: 1m",
    )
    assert drain_detail(off).startswith("not judged: scheduled sync is off from 60")
    assert off["readings"]["delivered"] == off["readings"]["captured"]  # the final Sync()
    on_again = run(
        "  - {at: 60s, kind: reconfigure, data_manager: {sync_disabled: true}}\n"
        "  - {at: 200s, kind: reconfigure, data_manager: {sync_disabled: false}}",
        "  drain_within: 30s",
    )
    assert drain_detail(on_again) == "the faults' backlog reached the cloud by 230s"
    never_on = probe_machine(10, **PROMISE, sync_disabled=True)
    assert drain_detail(run("  []", "  drain_within: 1m", machine=never_on)).startswith(
        "not judged: scheduled sync is off from 0"
    )


def test_the_fuzzer_turns_scheduled_sync_off_and_on_again_now_and_then() -> None:
    for sync_disabled, values in ((False, (True, False)), (True, (False, True))):
        machine = probe_machine(10, **PROMISE, sync_disabled=sync_disabled)
        doc = f"name: promises\nduration: 5m\n{machine}"
        settings = loads_scenario(doc, source="promises").envelope.data_manager_settings
        (toggle,) = [s for s in settings if s.attribute == "sync_disabled"]
        assert toggle.values == values
        assert toggle.rare


def test_each_crash_is_judged_by_the_durability_window_its_readings_were_captured_under() -> None:
    """Regression: the judge held every crash to the run's last window (1 s), so readings the
    first crash took under the 10 s window in force then were 'lost'; and the data manager
    kept its first window through the reconfigure, so the second crash, 5.5 s after the last
    sync pass closed the file, took 5.5 s of readings again."""
    data = run(
        "  - {at: 58s, kind: crash, restart_after: 5s}\n"
        "  - {at: 90s, kind: reconfigure, data_manager: {durability_window_ms: 1000}}\n"
        "  - {at: 152.5s, kind: crash, restart_after: 5s}",
        "  drain_within: 1m",
    )
    lost = data["readings"]["lost_in_window"]  # 10 readings a second
    assert lost > 2 * 10  # the first crash took over 2 s of readings (4 s: the 10 s window)
    assert lost <= 10 * 10 + 2 * 10 + 2  # at most 10 s then, 2 s (window + queue drain) after


def test_a_pause_runs_as_long_as_the_offline_interval_in_force_when_the_cloud_asked() -> None:
    """Regression: the judge gave the cloud's pause the run's last offline interval (5 s),
    while the pause began under the 60 s one in force when the answer came."""
    run(
        "  - {at: 60s, kind: rpc_reject, count: 1, duration: 10s, code: UNAVAILABLE}\n"
        "  - {at: 70s, kind: reconfigure, data_manager: {sync_offline_wait_secs: 5}}",
        "  drain_within: 20s",
    )


def test_while_the_machine_applies_a_reconfigure_either_promise_holds() -> None:
    """The world asks for a reconfigure at once, but the machine applies it part by part:
    its collectors retire first (a failing disk holds that up to seconds), its sync settings
    follow. Until it is done, the judge holds readings and answers to the looser of the two
    promises, then to the new one."""
    doc = (
        f"name: promises\nseed: 3\nduration: 5m\n{MACHINE}faults:\n"
        "  - {at: 85s, kind: disk_eio, duration: 15s, ops: [write, fsync], probability: 1.0}\n"
        "  - {at: 90s, kind: reconfigure, data_manager: "
        "{durability_window_ms: 250, sync_offline_wait_secs: 5}}\n"
        "  - {at: 200s, kind: crash, restart_after: 5s}\n"
        "  - {at: 220s, kind: reconfigure, data_manager: {durability_window_ms: 2000}}\n"
    )
    scenario = loads_scenario(doc, source="promises")
    result = run_world(scenario, seed=3)
    promises = [
        (e.time, e.fields["durability_window_s"], e.fields["offline_wait_s"])
        for e in result.trace.of_kind("world.promise")
    ]
    # recorded as it changes: the looser of each (the old) while the edit applies
    first, applied, edited = promises
    assert first == (0.0, 10.0, 60.0)
    assert applied[0] > 90.0  # the disk held the retired collectors up
    assert applied[1:] == (0.25, 5.0)
    assert edited == (220.0, 2.0, 5.0)  # looser at once; the same once applied
