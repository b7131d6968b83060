"""The runner and the report: a toy world through the oracle, JSON, summary, plot."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from tests.unit.scenario.scenario_kit import ToyWorld

from dmsim.errors import InternalError
from dmsim.faults import FaultSchedule, FaultStep
from dmsim.runtime import Trace
from dmsim.scenario import (
    Report,
    Scenario,
    WorldResult,
    default_world,
    load_scenario,
    loads_scenario,
    run_scenario,
    write_report_json,
    write_timeline_png,
)
from dmsim.scenario._plot import plot_timeline

ROOT = Path(__file__).resolve().parents[3]
LIBRARY_ACK = ROOT / "scenarios/field-failures/upload-lost-after-ack-timeout.scenario.yaml"
ACK = Path(__file__).with_name("data") / "small-ack.scenario.yaml"
CRASHES = ROOT / "scenarios/field-failures/orphaned-prog-after-crash.scenario.yaml"


class Ticks:
    """A fake wall clock advancing a fixed step per read."""

    def __init__(self, step: float) -> None:
        self.now = 100.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_passing_library_run() -> None:
    world = ToyWorld()
    report = run_scenario(LIBRARY_ACK, world=world, progress=False, wall_clock=Ticks(0.25))
    assert report.passed, report.summary()
    assert world.calls == 1
    assert report.seed == 17
    assert report.wall_seconds == 0.25
    assert report.reproduce == f"dmsim run {LIBRARY_ACK} --seed 17"
    assert report.verdict.uploads.unknown > 0
    assert report.verdict.uploads.recovered == report.verdict.uploads.unknown


def test_seed_override_and_options_reach_the_report() -> None:
    report = run_scenario(ACK, seed=99, world=ToyWorld(bugs=["no_idempotency"]), progress=False)
    assert report.seed == 99
    assert report.options["seed"] == 99
    assert report.options["bugs"] == ["no_idempotency"]
    assert not report.passed
    assert report.verdict.counts["duplicated"] > 0
    assert "--seed 99" in report.reproduce


@pytest.mark.parametrize(
    ("bug", "failed"),
    [
        ("no_idempotency", "allowed_classes"),
        ("forget_prog", "allowed_classes"),
    ],
)
def test_known_bugs_are_caught(bug: str, failed: str) -> None:
    report = run_scenario(ACK, world=ToyWorld(bugs=[bug]), progress=False)
    assert failed in [e.name for e in report.verdict.failed()]
    assert report.verdict.violations


def test_json_report_has_the_promised_fields(tmp_path: Path) -> None:
    report = run_scenario(ACK, world=ToyWorld(bugs=["no_idempotency"]), progress=False)
    out = tmp_path / "report.json"
    write_report_json(report, out)
    doc = json.loads(out.read_text())
    assert doc["verdict"] == "fail"
    assert doc["seed"] == 5
    assert doc["sim_seconds"] == 300.0
    assert isinstance(doc["wall_seconds"], float)
    for key in ("captured", "delivered", "duplicated", "lost", "lost_in_window",
                "deleted_by_policy", "skipped", "corrupted"):  # fmt: skip
        assert isinstance(doc["readings"][key], int), key
    assert doc["readings"]["captured"] == sum(
        n for k, n in doc["readings"].items() if k not in ("captured", "skipped")
    )
    assert set(doc["uploads"]) >= {"ok", "fail", "unknown", "recovered", "by_code"}
    assert doc["options"]["per_file"] == 10
    assert doc["reproduce"].startswith("dmsim run ")
    assert doc["violations"][0]["class"] == "duplicated"
    assert doc["violations"][0]["reading"]
    assert any(not e["ok"] for e in doc["expectations"])
    assert [f["kind"] for f in doc["faults"]] == ["drop_ack_after_commit", "crash", "link_down"]
    assert len(doc["trace_digest"]) == 64


def test_summary_table() -> None:
    report = run_scenario(ACK, world=ToyWorld(bugs=["no_idempotency"]), progress=False)
    text = report.summary()
    assert text.startswith("dmsim run: small-ack  seed=5  verdict=FAIL")
    assert "lost_in_window" in text
    assert "FAIL  allowed_classes" in text
    assert "violations (first " in text
    assert "  duplicated   " in text
    assert text.rstrip().endswith(f"reproduce: dmsim run {ACK} --seed 5")


def test_plot_is_a_png(tmp_path: Path) -> None:
    report = run_scenario(CRASHES, world=ToyWorld(), progress=False)
    out = tmp_path / "timeline.png"
    write_timeline_png(report, out)
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == (1100, 700)


def test_determinism_check_passes_for_a_deterministic_world() -> None:
    world = ToyWorld()
    report = run_scenario(CRASHES, world=world, progress=False, check_determinism=True)
    assert world.calls == 2
    assert report.determinism is not None
    assert report.determinism.identical
    assert report.verdict.expectations[-1].name == "deterministic"
    assert report.reproduce.endswith("--check-determinism")


def flaky_world() -> Callable[..., WorldResult]:
    runs = []

    def world(
        scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None
    ) -> WorldResult:
        runs.append(seed)
        trace = Trace(lambda: 1.5)
        trace.record("reading.captured", stream="s", boot=0, seq=0, t_ns=0, digest="d")
        trace.record("cloud.stored", stream="s", boot=0, seq=0, key=f"k{len(runs)}", digest="d",
                     duplicate_key=False)  # fmt: skip
        return WorldResult(trace, 60.0, {}, {}, [], 1.0)

    return world


def test_determinism_check_fails_on_the_first_divergence() -> None:
    plain = loads_scenario("name: plain\nduration: 1m\nmachine: {components: []}\n", base_dir=ROOT)
    report = run_scenario(plain, world=flaky_world(), progress=False, check_determinism=True)
    assert not report.passed
    assert report.determinism is not None
    assert not report.determinism.identical
    assert "traces diverge at event #1" in report.determinism.divergence
    assert '"key":"k1"' in report.determinism.divergence
    assert '"key":"k2"' in report.determinism.divergence
    failed = report.verdict.failed()
    assert [e.name for e in failed] == ["deterministic"]


def test_progress_line_for_long_runs_only() -> None:
    stream = io.StringIO()
    run_scenario(CRASHES, world=ToyWorld(), stream=stream, wall_clock=Ticks(0.0001))
    assert stream.getvalue() == ""
    stream = io.StringIO()
    run_scenario(CRASHES, world=ToyWorld(), stream=stream, wall_clock=Ticks(0.6))
    shown = stream.getvalue()
    assert "dmsim run orphaned-prog-after-crash:" in shown
    assert "% of 12m simulated" in shown
    assert shown.endswith("\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_ends_at_100_percent_and_a_log_gets_whole_lines() -> None:
    # Regression: the line stopped at 91.2 %, and in a CI log the carriage-return updates ran
    # together into one long line.
    log = io.StringIO()
    run_scenario(CRASHES, world=ToyWorld(), stream=log, wall_clock=Ticks(3.0))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) >= 2
    assert lines[-1].startswith("dmsim run orphaned-prog-after-crash: 100.0% of 12m simulated")
    terminal = Terminal()
    run_scenario(CRASHES, world=ToyWorld(), stream=terminal, wall_clock=Ticks(0.6))
    shown = terminal.getvalue()
    assert shown.startswith("\r")
    assert shown.rsplit("\r", 1)[-1].startswith("dmsim run orphaned-prog-after-crash: 100.0%")
    assert shown.endswith("\n")


def test_progress_callback_gets_fractions() -> None:
    seen: list[float] = []
    run_scenario(CRASHES, world=ToyWorld(), progress=seen.append)
    assert seen
    assert seen == sorted(seen)
    assert seen[0] >= 0
    assert seen[-1] <= 1.0


def test_scenario_objects_run_too() -> None:
    scenario = load_scenario(ACK)
    report: Report = run_scenario(
        scenario.with_faults(scenario.faults.without(["f2"])),
        world=ToyWorld(bugs=["forget_prog"]),
        progress=False,
    )
    assert report.passed  # no crash, nothing to forget
    assert [s.fault_id for s in report.faults] == ["f1", "f3"]
    assert report.reproduce == f"dmsim run {ACK} --seed 5"


def test_default_world_missing_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> object:
        if name == "dmsim.scenario._world":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(InternalError, match="not available"):
        default_world()


def test_the_simulated_world_runs_a_library_scenario_deterministically() -> None:
    path = ROOT / "scenarios/field-failures/sync-starved-one-cpu.scenario.yaml"
    report = run_scenario(path, progress=False, check_determinism=True)
    assert report.determinism is not None
    assert report.determinism.identical, report.determinism.divergence
    assert report.passed, report.summary()
    assert report.verdict.captured > 1000


def broken_world(
    scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None
) -> WorldResult:
    raise ValueError("the scene has negative width")


def test_a_crash_inside_the_world_is_an_internal_error_with_reproduction() -> None:
    with pytest.raises(InternalError) as caught:
        run_scenario(ACK, world=broken_world, progress=False, seed=12)
    message = str(caught.value)
    assert "the simulated world failed at test_scenario_runner.py:" in message
    assert "ValueError: the scene has negative width" in message
    assert message.endswith(f"reproduce: dmsim run {ACK} --seed 12")


def test_a_fault_with_nothing_to_act_on_is_named_in_the_report() -> None:
    # Regression: garbage due while the link was down found no completed file (files are not
    # closed early offline), and the run passed without saying the fault did nothing.
    machine = ROOT / "scenarios" / "machines" / "one-sensor.json"
    scenario = loads_scenario(
        f"""
name: idle-garbage
seed: 19
duration: 10m
machine: {{path: {machine}}}
faults:
  - {{at: 1m, kind: link_down, duration: 5m}}
  - {{at: 4m, kind: disk_append_garbage, bytes: 137}}
""",
        source="idle-garbage",
    )
    report = run_scenario(scenario, progress=False)
    [idle] = report.verdict.faults_without_target
    assert report.to_json_dict()["faults_without_target"] == [idle]
    assert f"2 fault(s), of which {idle} found nothing to act on" in report.summary()


def test_a_fault_without_an_end_is_shaded_until_the_world_heals() -> None:
    # Regression: a disk_fill with no duration was shaded through the whole final drain, and
    # nothing showed where the run ended and the drain began.
    faults = FaultSchedule((FaultStep(60.0, "disk_fill", {"bytes": 1024}, "fill"),))
    figure = plot_timeline([], faults, sim_seconds=300.0, run_end=100.0, title="t")
    backlog = figure.axes[0]
    [span] = backlog.patches  # in minutes: the run is 5 minutes long
    assert span.get_x() + span.get_width() == pytest.approx(100 / 60)
    [dashed] = [line for line in backlog.lines if line.get_linestyle() == "--"]
    assert dashed.get_xdata()[0] == pytest.approx(100 / 60)
    assert "final drain after 1.67 minutes" in figure.axes[-1].get_xlabel()
