"""The offline pauses, end to end on the simulated world and judged by the oracle: a pause
the cloud asked for runs its course, silence ends when the link is back."""

from __future__ import annotations

from dmsim.scenario import judge, loads_scenario
from dmsim.scenario._world import run_world

# Two sensors, so a pass hands two files to the two workers. At 60 s the first call is
# committed but acknowledged only after 29 s (slow_ack), the second is answered UNAVAILABLE:
# every upload pauses for the offline interval (60 s, jittered down a little). The link dies
# just before the slow acknowledgement travels back, so that call ends in silence, 29 s into
# the cloud's pause; the link is back at 92 s.
SILENCE_INSIDE_THE_CLOUDS_PAUSE = """
name: silence-inside-the-clouds-pause
seed: 5
duration: 4m
network: {profile: lan}
machine:
  components:
    - name: probe-a
      type: sensor
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods: [{method: Readings, capture_frequency_hz: 2}]
    - name: probe-b
      type: sensor
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods: [{method: Readings, capture_frequency_hz: 2}]
  services:
    - name: data_manager
      type: data_manager
      attributes: {sync_interval_mins: 0.1, maximum_num_sync_threads: 2}
faults:
  - {at: 60s, kind: slow_ack, count: 1, duration: 10s, seconds: 29s}
  - {at: 60s, kind: rpc_reject, count: 1, duration: 10s, code: UNAVAILABLE}
  - {at: 87s, kind: link_down, duration: 5s}
expectations:
  drain_within: 10s
"""


def test_silence_inside_the_clouds_pause_does_not_stretch_it() -> None:
    """Regression: the silence used to extend the cloud's pause to 60 s after itself
    (149 s), which the link coming back could not end: 252 readings missed the drain bound
    (10 s after the cloud's pause ended)."""
    scenario = loads_scenario(SILENCE_INSIDE_THE_CLOUDS_PAUSE, source="silence")
    result = run_world(scenario, seed=scenario.seed)
    attempts = [e for e in result.trace.of_kind("net.transport.attempt") if e.time >= 60]
    answer = next(e for e in attempts if e.fields["cloud"] == "error:UNAVAILABLE")
    silence = next(e for e in attempts if e.fields["outcome"] == "unknown")
    assert answer.time < 61  # the schedule did what it says
    assert 87 < silence.time < 92
    pause_end = next(
        e.time + e.fields["seconds"]
        for e in result.trace.of_kind("sync.paused")
        if e.time == answer.time
    )
    resumed = next(e.time for e in attempts if e.time > silence.time)
    assert pause_end <= resumed < pause_end + 1  # the cloud's pause ran its course, no longer

    verdict = judge(result, scenario.expectations)
    assert verdict.passed, [e for e in verdict.expectations if not e.passed]
