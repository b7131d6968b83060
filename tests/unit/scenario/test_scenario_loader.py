"""Scenario files: loading, the published schema, and errors that name path and line."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from tests.unit.mutations import mutate, odd_values

from dmsim.config import parse_machine_config
from dmsim.errors import ScenarioError
from dmsim.faults import (
    KINDS,
    CaptureMethodRef,
    Envelope,
    FaultSchedule,
    ServiceSetting,
    fault_schedules,
    parse_schedule,
)
from dmsim.scenario import (
    DEFAULT_ALLOWED,
    Scenario,
    apply_reconfigure,
    build_schema,
    dump_scenario,
    load_scenario,
    loads_scenario,
    parse_scenario,
    shipped_schema,
)
from dmsim.scenario._model import SIM_ENV, FileWriterSpec
from dmsim.scenario._yaml import load_yaml

ROOT = Path(__file__).resolve().parents[3]
WIDE = Envelope(
    kinds=frozenset(KINDS),
    max_disk_fill_bytes=2**30,
    components=("cam",),
    capture_methods=(CaptureMethodRef("cam", "ReadImage", 1.0),),
    data_manager_settings=(ServiceSetting("durability_window_ms", (0, 5000)),),
)
LIBRARY = sorted((ROOT / "scenarios").rglob("*.scenario.yaml"))

MACHINE = """\
machine:
  components:
    - name: temp
      type: sensor
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods:
              - {method: Readings, capture_frequency_hz: 1}
  services:
    - {name: dm, type: data_manager, attributes: {sync_interval_mins: 0.1}}
"""


def scenario_text(body: str) -> str:
    return "name: t\nduration: 10m\n" + MACHINE + textwrap.dedent(body)


def problems(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        loads_scenario(text, source="t.yaml", base_dir=tmp_path)
    return [str(p) for p in caught.value.problems]


def test_the_shipped_schema_is_the_built_one() -> None:
    assert shipped_schema() == build_schema()
    Draft202012Validator.check_schema(shipped_schema())


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
def test_library_scenarios_are_valid(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.source == path
    assert scenario.description or path.read_text().startswith("#")  # explained on top
    located = load_yaml(path.read_text(), source=str(path))
    assert not list(Draft202012Validator(shipped_schema()).iter_errors(located.data))


def test_library_covers_the_documents_and_field_failures() -> None:
    names = {p.name.removesuffix(".scenario.yaml") for p in LIBRARY}
    assert {"tomato-robot", "inspection-station", "sensor-fleet", "esp32-remote"} <= names
    assert len([p for p in LIBRARY if p.parent.name == "field-failures"]) >= 10


def test_full_scenario_loads_with_units_and_defaults(tmp_path: Path) -> None:
    text = scenario_text(
        """\
        seed: 9
        epoch: "2026-03-01T12:00:00.5Z"
        disk: {capacity: 1GiB, initial_fill: 256MiB}
        host: {cpu_count: 1}
        cloud:
          capacity: 10MiB
          faults: [{at: 1m, kind: rpc_reject, code: UNAVAILABLE, duration: 30s}]
        faults:
          - {at: 90s, kind: crash, restart_after: 10s}
          - {at: 2m, kind: device_stuck, duration: 1m, component: temp}
        expectations:
          drain_within: 2m
          counts: {uploads.unknown: {min: 1}}
        fuzz:
          envelope:
            max_faults: 3
            quiet_tail: 3m
            kinds: [crash, link_down, rpc_reject]
            rpcs: [CreateSequence, FileUpload]
        """
    )
    scenario = loads_scenario(text, base_dir=tmp_path)
    assert scenario.seed == 9
    assert scenario.epoch_ns == 1_772_366_400 * 10**9 + 500_000_000
    assert scenario.duration_s == 600.0
    assert scenario.disk.capacity_bytes == 2**30
    assert scenario.disk.initial_fill_bytes == 256 * 2**20
    assert scenario.cloud.capacity_bytes == 10 * 2**20
    assert [s.fault_id for s in scenario.faults] == ["f3", "f1", "f2"]  # cloud fault numbered on
    assert scenario.expectations.allowed == DEFAULT_ALLOWED
    assert scenario.expectations.counts["uploads.unknown"].minimum == 1
    assert scenario.envelope.max_faults == 3
    assert scenario.envelope.quiet_tail_s == 180.0
    # A fault window may last at most half the drain bound: after an error window of W the
    # per-file backoff's next retry can be up to W later, and the drain promise must hold.
    assert scenario.envelope.max_window_s == 60.0
    assert scenario.envelope.kinds == {"crash", "link_down", "rpc_reject"}
    assert scenario.envelope.rpcs == ("FileUpload", "CreateSequence")  # in the cloud's order
    # the machine's offline interval, which such an answer makes it wait
    assert "UNAVAILABLE" in scenario.envelope.pausing_codes
    assert scenario.envelope.pause_s == 60.0
    dumped = loads_scenario(dump_scenario(scenario, header="copy"), base_dir=tmp_path)
    assert dumped.envelope == scenario.envelope
    assert scenario.envelope.components == ("temp",)
    assert scenario.machine.data_manager is not None
    assert scenario.machine.data_manager.maximum_num_sync_threads == 1  # from host.cpu_count
    # a reconfigure may set these: intervals only shorter; storage and deletion rules to
    # values that make files small or large and deletion fire, and back
    assert {s.attribute: s.values for s in scenario.envelope.data_manager_settings} == {
        "durability_window_ms": (0, 250, 5000),
        "maximum_num_sync_threads": (2, 4),
        "sync_interval_mins": (0.05, 0.1),
        "sync_offline_wait_secs": (30.0, 60.0),
        "capture_dir": (
            "/home/dmsim/.viam/capture-moved",
            "/home/dmsim/.viam/capture-moved-2",
            "/home/dmsim/.viam/capture",
        ),
        "maximum_capture_file_size_bytes": (1024, 1048576, 262144),
        "capture_dir_max_bytes": (65536, 1048576, 0),
        "disk_usage_deletion_threshold": (1e-9, 0.9),
        "capture_dir_deletion_threshold": (1e-9, 0.5),
        "delete_every_nth_when_disk_full": (1, 2, 5),
        "disk_check_interval_secs": (1.0, 30.0),
        "stale_data_warning_secs": (5.0, 60.0, 180.0),  # and back to rdk's rule's threshold
        "capture_disabled": (True, False),  # now and then, with another change
        "sync_disabled": (True, False),
    }
    assert [s.attribute for s in scenario.envelope.data_manager_settings if s.rare] == [
        "capture_disabled",
        "sync_disabled",
    ]
    assert scenario.sample_every_s == 1.0


def test_brief_example_error_names_path_and_line() -> None:
    text = scenario_text(
        """\
        faults:
          - {at: 1m, kind: link_down, duration: 10s}
          - {at: 2m, kind: link_down, duration: 10s}
          - {at: 3m, kind: link_down, duration: 10s}
          - {at: 90 sec, kind: link_down, duration: 10s}
        """
    )
    line = text.splitlines().index("  - {at: 90 sec, kind: link_down, duration: 10s}") + 1
    assert problems(text) == [
        f"faults[3].at (line {line}): expected a duration like '90s', got '90 sec'"
    ]


def test_every_problem_is_reported_with_its_line() -> None:
    text = "name: bad name!\nduration: soon\nmachine: {components: 7}\ncolour: blue\n"
    found = problems(text)
    assert any(p.startswith("name (line 1): ") for p in found)
    assert "duration (line 2): expected a duration like '90s', got 'soon'" in found
    assert any(p.startswith("machine.components (line 3)") for p in found)
    assert any(p.startswith("colour (line 4): unknown key") for p in found)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("disk: {capacity: 1GiB, initial_fill: 2GiB}\n", "disk.initial_fill"),
        ("disk: {block_size: 1000}\n", "disk.block_size"),
        ("epoch: '2026-13-01T00:00:00Z'\n", "epoch"),
        ("epoch: '2026-01-01T00:00:00+02:00'\n", "epoch"),
        ("network: {profile: dialup}\n", "network.profile"),
        ("network: {trace: nowhere.csv}\n", "network.trace"),
        ("expectations: {allowed: [delivered, happy]}\n", "expectations.allowed[1]"),
        ("expectations: {counts: {readings.happy: {min: 1}}}\n", "expectations.counts"),
        (
            "expectations: {counts: {readings.lost: {min: 5, max: 1}}}\n",
            "expectations.counts.readings.lost",
        ),
        ("expectations: {disk_high_water: 1.5}\n", "expectations.disk_high_water"),
        ("sample_every: 1ms\n", "sample_every"),
        (
            "faults: [{at: 1m, kind: device_stuck, duration: 1m, component: ghost}]\n",
            "faults[0].component",
        ),
        (  # temp captures Readings only: a method it does not capture was silently ignored
            "faults: [{at: 1m, kind: device_read_error, duration: 1m, component: temp, "
            "method: GetImages}]\n",
            "faults[0].method",
        ),
        (  # a service, not a device: the run died with a KeyError
            "faults: [{at: 1m, kind: device_disconnect, duration: 1m, component: dm}]\n",
            "faults[0].component",
        ),
        (
            "faults: [{at: 1m, kind: reconfigure, changes: [{resource: temp, method: Nope, "
            "capture_frequency_hz: 1}]}]\n",
            "faults[0].changes[0]",
        ),
        ("cloud: {faults: [{at: 1m, kind: crash, restart_after: 1s}]}\n", "cloud.faults[0].kind"),
        (
            "cloud: {faults: [{at: 1m, kind: link_down, duration: 1s, id: x}]}\n"
            "faults: [{at: 1m, kind: link_down, duration: 1s, id: x}]\n",
            "cloud.faults",
        ),
        ("faults: [{at: 9m50s, kind: link_down, duration: 1m}]\n", "faults[0].duration"),
        ("seed: -1\n", "seed"),
        ("fuzz: {envelope: {kinds: [meteor]}}\n", "fuzz.envelope.kinds[0]"),
        ("fuzz: {envelope: {rpcs: [Upload]}}\n", "fuzz.envelope.rpcs[0]"),
        ("fuzz: {envelope: {rpcs: []}}\n", "fuzz.envelope.rpcs"),
        # a run whose simulated clock would leave what the cloud stores (64-bit nanoseconds)
        ('epoch: "2262-04-11T23:00:00Z"\n', "epoch"),
        ('epoch: "1600-01-01T00:00:00Z"\n', "epoch"),
        # these three raised TypeError or AttributeError instead (found by the property test)
        ("faults: 1.5\n", "faults"),
        ("expectations: {counts: many}\n", "expectations.counts"),
        ("expectations: {allowed: [[lost_in_window]]}\n", "expectations.allowed[0]"),
    ],
)
def test_semantic_and_schema_errors(body: str, expected: str) -> None:
    found = problems(scenario_text(body))
    assert any(p.startswith(expected + " (line ") or p.startswith(expected + ":") for p in found), (
        found
    )


def test_machine_problems_point_into_the_machine() -> None:
    text = scenario_text("").replace("capture_frequency_hz: 1", "capture_frequency_hz: fast")
    found = problems(text)
    path = "machine.components[0].service_configs[0].attributes.capture_methods[0]"
    assert any(p.startswith(f"{path}.capture_frequency_hz (line 12)") for p in found), found


def test_a_machine_too_busy_to_simulate_is_refused_naming_the_busiest_rate() -> None:
    busy = scenario_text("").replace(
        "capture_frequency_hz: 1}", "capture_frequency_hz: 200000}"
    )  # 200 kHz for 10 minutes: 120 million ticks
    path = "machine.components[0].service_configs[0].attributes.capture_methods[0]"
    [found] = problems(busy)
    assert found.startswith(f"{path}.capture_frequency_hz (line 12): 200000 Hz")
    assert "1.2e+08 ticks" in found
    loads_scenario(busy.replace("duration: 10m", "duration: 8m"), source="t.yaml")  # 96 M: runs


def test_a_component_with_no_simulated_model_is_refused_at_validation(tmp_path: Path) -> None:
    # Regression: validate said "valid", then run failed with "type: no simulated model ..."
    # naming neither the file nor the component.
    gripper = "    - {name: gripper, type: gripper, model: fake, attributes: {}}\n"
    text = scenario_text("").replace("  services:\n", gripper + "  services:\n")
    [found] = problems(text)
    assert found.startswith("machine.components[1].type (line 13): no simulated model")
    machine = tmp_path / "m.json"
    gripper_only = {"components": [{"name": "gripper", "type": "gripper", "model": "fake"}]}
    machine.write_text(json.dumps(gripper_only))
    by_path = "name: t\nduration: 10m\nmachine: {path: m.json}\n"
    assert any(
        p.startswith("machine.path") and "m.json: components[0].type: no simulated model" in p
        for p in problems(by_path, tmp_path)
    )


def test_machine_by_path_and_its_errors(tmp_path: Path) -> None:
    config = {"components": [], "services": [{"name": "dm", "type": "data_manager"}]}
    (tmp_path / "m.json").write_text(json.dumps(config))
    scenario = loads_scenario("name: t\nduration: 1m\nmachine: {path: m.json}\n", base_dir=tmp_path)
    assert scenario.machine_document == config
    (tmp_path / "bad.json").write_text('{"components": [}')
    found = problems("name: t\nduration: 1m\nmachine: {path: bad.json}\n", tmp_path)
    assert found[0].startswith("machine.path (line 3): bad.json: ")
    assert "line 1" in found[0]
    found = problems("name: t\nduration: 1m\nmachine: {path: gone.json}\n", tmp_path)
    assert "gone.json" in found[0]
    found = problems("name: t\nduration: 1m\nmachine: {path: m.json, components: []}\n", tmp_path)
    assert found[0].startswith("machine.components")


def test_network_trace_is_resolved_and_checked(tmp_path: Path) -> None:
    (tmp_path / "link.csv").write_text("time,state\n0,up\n60,down\n120,up\n")
    scenario = loads_scenario(
        scenario_text("network: {profile: lte, trace: link.csv}\n"), base_dir=tmp_path
    )
    assert scenario.network.trace == tmp_path / "link.csv"
    (tmp_path / "broken.csv").write_text("time,state\n0,sideways\n")
    found = problems(scenario_text("network: {trace: broken.csv}\n"), tmp_path)
    assert found[0].startswith("network.trace")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenario(tmp_path / "nope.scenario.yaml")
    (tmp_path / "bin.scenario.yaml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ScenarioError):
        load_scenario(tmp_path / "bin.scenario.yaml")
    with pytest.raises(ScenarioError, match="must be a mapping"):
        loads_scenario("- just\n- a list\n")


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
def test_dump_round_trips(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    again = loads_scenario(dump_scenario(scenario, header="copy"), base_dir=tmp_path)
    for field in ("name", "seed", "epoch_ns", "duration_s", "sample_every_s", "host", "disk",
                  "network", "cloud", "faults", "expectations", "envelope", "machine"):  # fmt: skip
        assert getattr(again, field) == getattr(scenario, field), field
    assert dict(again.payload) == dict(scenario.payload)


@cache
def library_scenario(path: Path) -> Scenario:
    return load_scenario(path)


@cache
def library_document(path: Path) -> Any:
    return load_yaml(path.read_text(encoding="utf-8"), source=path.name).data


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.name)
@settings(max_examples=10)
@given(data=st.data())
def test_every_generated_reconfigure_gives_a_config_the_machine_takes(
    path: Path, data: st.DataObject
) -> None:
    scenario = library_scenario(path)
    envelope = replace(scenario.envelope, kinds=frozenset({"reconfigure"}))
    schedule = data.draw(fault_schedules(duration=scenario.duration_s, envelope=envelope))
    document, machine = scenario.machine_document, scenario.machine
    for step in schedule:
        document = apply_reconfigure(document, machine, step.params)
        machine = parse_machine_config(document, env=SIM_ENV, cpu_count=scenario.host.cpu_count)
        for name, value in step.params.get("data_manager", {}).items():
            assert getattr(machine.data_manager, name) == value


@settings(max_examples=50)
@given(fault_schedules(duration=3600.0, envelope=WIDE))
def test_schema_accepts_every_valid_schedule(schedule: FaultSchedule) -> None:
    doc = {"name": "x", "duration": "1h", "machine": {}, "faults": schedule.to_document()}
    assert list(Draft202012Validator(shipped_schema()).iter_errors(doc)) == []


@pytest.mark.parametrize(
    "step",
    [
        {"at": "1m", "kind": "loss", "probability": 0.5},  # no duration
        {"at": "1m", "kind": "crash", "restart_after": "1s", "duration": "1m"},
        {"at": "1m", "kind": "crash"},
        {"at": "1m", "kind": "link_down", "duration": "1m", "bogus": 1},
        {"at": "1m", "kind": "rpc_reject", "code": "NOPE"},
    ],
)
def test_schema_rejects_what_the_loader_rejects(step: dict[str, object]) -> None:
    doc = {"name": "x", "duration": "1h", "machine": {}, "faults": [step]}
    assert list(Draft202012Validator(shipped_schema()).iter_errors(doc))
    assert parse_schedule([step])[1]


SCENARIO_VALUES = odd_values | st.sampled_from(
    ["", "1m", "-1s", "0s", "1e999h", "²", "5 MiB", "1e9GiB", "crash", "link_down", [[1]], [{}]]
)


@settings(max_examples=200)
@given(st.sampled_from(LIBRARY), st.data())
def test_mutated_library_scenarios_give_a_scenario_or_name_each_problem(
    path: Path, data: st.DataObject
) -> None:
    """A scenario document the schema refuses used to reach the builder anyway, which then
    iterated a number or hashed a list (a TypeError, not the schema's message)."""
    document = mutate(data.draw, library_document(path), values=SCENARIO_VALUES)
    try:
        parse_scenario(document, source=path.name, base_dir=path.parent)
    except ScenarioError as error:
        refused = error
    else:
        refused = None
    if refused is not None:
        assert refused.problems
        assert all(problem.message for problem in refused.problems)


WRITERS_MACHINE = MACHINE.replace(
    "attributes: {sync_interval_mins: 0.1}",
    "attributes: {sync_interval_mins: 0.1, additional_sync_paths: [/data/exports]}",
)


def writers_text(writers: str, machine: str = WRITERS_MACHINE) -> str:
    return f"name: t\nduration: 10m\n{machine}file_writers:\n{textwrap.dedent(writers)}"


def test_file_writers_load_and_dump_back(tmp_path: Path) -> None:
    scenario = loads_scenario(writers_text("""\
        - {dir: /data/exports/tag=qa, every: 2m, size: 300KiB, write_for: 20s, extension: .csv}
        - {dir: /data/exports/, every: 30s, size: 1000}
        """))  # fmt: skip
    assert scenario.file_writers == (
        FileWriterSpec("/data/exports/tag=qa", 120.0, 300 * 1024, 20.0, ".csv"),
        FileWriterSpec("/data/exports", 30.0, 1000),
    )
    dumped = loads_scenario(dump_scenario(scenario, header="copy"), base_dir=tmp_path)
    assert dumped.file_writers == scenario.file_writers


def test_file_writer_problems_name_the_writer_and_what_is_wrong() -> None:
    text = writers_text("""\
        - {dir: /elsewhere, every: 1m, size: 1KiB}
        - {dir: /data/exports, every: 20s, size: 0, write_for: 30s}
        - {dir: /data/exports, every: 1m, size: 1KiB, flavour: csv}
        """)  # fmt: skip
    found = problems(text)
    first = text.splitlines().index("- {dir: /elsewhere, every: 1m, size: 1KiB}") + 1
    assert any(p.startswith("file_writers[2].flavour") and "unknown key" in p for p in found)
    found = problems(text.replace(", flavour: csv", ""))
    assert found == [
        f"file_writers[0].dir (line {first}): /elsewhere is not under one of the machine's "
        "additional_sync_paths (/data/exports): sync would never see its files",
        f"file_writers[1].every (line {first + 1}): must be longer than write_for (30s): one "
        "file at a time",
        f"file_writers[1].size (line {first + 1}): must be at least 1 byte",
    ]


def test_a_file_writer_slower_than_the_quiet_period_is_refused() -> None:
    hasty = WRITERS_MACHINE.replace("sync_interval_mins: 0.1,", "file_last_modified_millis: 800,")
    (problem,) = problems(writers_text("- {dir: /data/exports, every: 1m, size: 1KiB, "
                                       "write_for: 10s}", hasty))  # fmt: skip
    assert "file_writers[0].write_for" in problem
    assert "file_last_modified_millis (800) takes a file quiet that long as complete" in problem
    in_capture_dir = WRITERS_MACHINE.replace("[/data/exports]", "[/home/dmsim/.viam]")
    (problem,) = problems(writers_text("- {dir: /home/dmsim/.viam/capture, every: 1m, "
                                       "size: 1KiB}", in_capture_dir))  # fmt: skip
    assert "/home/dmsim/.viam/capture is inside the capture directory" in problem
