"""The fuzzer: generate inside the envelope, catch a broken core, shrink, write it down."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from tests.unit.scenario.scenario_kit import ToyWorld

from dmsim.errors import InternalError, Problem, ScenarioError
from dmsim.scenario import (
    Scenario,
    WorldResult,
    fuzz_expectations,
    fuzz_scenario,
    load_scenario,
    run_scenario,
)
from dmsim.scenario import _runner as runner_module

SMALL = Path(__file__).with_name("data") / "small-ack.scenario.yaml"


def test_window_losses_are_allowed_only_when_the_envelope_can_crash_the_machine() -> None:
    small = load_scenario(SMALL)
    strict = replace(
        small, expectations=replace(small.expectations, allowed=frozenset({"delivered"}))
    )
    assert fuzz_expectations(strict).allowed == {"delivered", "lost_in_window"}
    no_crash = replace(strict, envelope=replace(strict.envelope, kinds=frozenset({"link_down"})))
    assert fuzz_expectations(no_crash).allowed == {"delivered"}
    judged = fuzz_expectations(small)
    assert judged.min_delivered is None  # the scenario's own schedule's figure
    assert judged.drain_within_s == small.expectations.drain_within_s


def test_policy_deletions_are_allowed_only_when_the_envelope_can_delete() -> None:
    small = load_scenario(SMALL)
    strict = replace(
        small, expectations=replace(small.expectations, allowed=frozenset({"delivered"}))
    )
    no_reconfigure = strict.envelope  # crashes and the network only: nothing deletes
    assert "deleted_by_policy" not in fuzz_expectations(strict).allowed
    for kinds in ({"reconfigure"}, {"disk_fill"}):
        envelope = replace(no_reconfigure, kinds=frozenset(kinds), max_disk_fill_bytes=1 << 30)
        judged = fuzz_expectations(replace(strict, envelope=envelope))
        assert judged.allowed == {"delivered", "deleted_by_policy"}, kinds
    # a reconfigure that can only retune capture rates deletes nothing
    rates_only = replace(no_reconfigure, kinds=frozenset({"reconfigure"}), data_manager_settings=())
    assert fuzz_expectations(replace(strict, envelope=rates_only)).allowed == {"delivered"}


def test_drops_are_allowed_only_when_a_clean_shutdown_can_meet_a_refusing_disk() -> None:
    small = load_scenario(SMALL)
    strict = replace(
        small, expectations=replace(small.expectations, allowed=frozenset({"delivered"}))
    )

    def allowed(*kinds: str) -> frozenset[str]:
        envelope = replace(strict.envelope, kinds=frozenset(kinds), max_disk_fill_bytes=1 << 30)
        return fuzz_expectations(replace(strict, envelope=envelope)).allowed

    assert "dropped" in allowed("clean_restart", "disk_eio")
    assert "dropped" in allowed("clean_restart", "disk_fill")
    assert "dropped" not in allowed("clean_restart", "link_down")
    assert "dropped" not in allowed("crash", "disk_eio")


def test_a_correct_core_survives_the_campaign() -> None:
    lines: list[str] = []
    summary = fuzz_scenario(SMALL, runs=8, seed=1, world=ToyWorld(), log=lines.append)
    assert not summary.failed
    assert summary.runs == summary.passed == 8
    assert len(lines) == 8
    assert lines[0].startswith("run 1/8: seed ")
    assert "no failure" in summary.text()


def test_every_run_injects_at_least_one_fault() -> None:
    # hypothesis starts from the simplest schedule; a fault-free run would test nothing
    lines: list[str] = []
    fuzz_scenario(SMALL, runs=12, seed=0, world=ToyWorld(), log=lines.append)
    assert 6 <= len(lines) <= 12  # a schedule hypothesis draws again is not run again
    assert not [line for line in lines if ", 0 fault(s)" in line]


def test_campaigns_are_reproducible_from_the_seed() -> None:
    first: list[str] = []
    second: list[str] = []
    fuzz_scenario(SMALL, runs=5, seed=3, world=ToyWorld(), log=first.append)
    fuzz_scenario(SMALL, runs=5, seed=3, world=ToyWorld(), log=second.append)
    other: list[str] = []
    fuzz_scenario(SMALL, runs=5, seed=4, world=ToyWorld(), log=other.append)
    strip = [line.rsplit(" (", 1)[0] for line in first]  # drop wall times
    assert strip == [line.rsplit(" (", 1)[0] for line in second]
    assert strip != [line.rsplit(" (", 1)[0] for line in other]


# Literals like a caller's own code might hold: the times, counts and rates a schedule draws.
CALLER_LITERALS = "\n".join(
    f"VALUE_{i} = ({i}, {i * 7 + 3}, {i * 31 % 2999}, {i / 10 + 0.3!r}, {i * 1.7!r})"
    for i in range(150)  # (hypothesis skips a module with over 1,024 literals)
)


def test_a_campaign_depends_on_its_seed_alone_not_on_what_the_process_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hypothesis now and then draws a literal from the source of the modules outside
    site-packages imported so far (an editable install's, the caller's own): the same seed
    would generate other schedules from ``dmsim fuzz``, a test, a script or a wheel install."""

    def campaign() -> list[str]:
        toy = ToyWorld()
        schedules: list[str] = []

        def world(
            scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None
        ) -> WorldResult:
            schedules.append(f"{seed} {scenario.faults.canonical()}")
            return toy(scenario, seed=seed, progress=progress)

        fuzz_scenario(SMALL, runs=60, seed=3, world=world)
        return schedules

    alone = campaign()
    (tmp_path / "callers_own_code.py").write_text(CALLER_LITERALS + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("callers_own_code")
    try:
        assert campaign() == alone
    finally:
        del sys.modules["callers_own_code"]


def test_a_broken_core_is_caught_shrunk_and_written_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buggy = ToyWorld(bugs=["no_idempotency"])
    scenario = load_scenario(SMALL)
    quiet = scenario.with_faults(scenario.faults.without(["f1", "f2", "f3"]))
    lines: list[str] = []
    summary = fuzz_scenario(quiet, runs=40, seed=0, world=buggy, out_dir=tmp_path, log=lines.append)
    finding = summary.finding
    assert finding is not None, summary.text()
    assert "allowed_classes" in finding.failed
    assert 1 <= len(finding.minimal) <= 3
    assert any(s.kind == "drop_ack_after_commit" for s in finding.minimal)
    original = {s.fault_id: s.at for s in finding.original}
    assert all(original[s.fault_id] == s.at for s in finding.minimal)
    assert finding.report is not None
    assert not finding.report.passed
    assert any(line.startswith("shrinking ") for line in lines)

    files = finding.files
    assert files is not None
    assert files.scenario.name == f"small_ack_{finding.seed}.scenario.yaml"
    assert files.test.name == f"test_small_ack_{finding.seed}.py"
    minimal = load_scenario(files.scenario)
    assert minimal.seed == finding.seed
    assert minimal.faults == finding.minimal
    assert minimal.machine == scenario.machine
    assert files.scenario.read_text().startswith("# Scenario 'small-ack', seed ")
    assert not run_scenario(files.scenario, world=buggy, progress=False).passed
    assert run_scenario(files.scenario, world=ToyWorld(), progress=False).passed

    text = summary.text()
    assert f"reproduce: dmsim run {files.scenario} --seed {finding.seed}" in text
    assert f"→ {len(finding.minimal)} fault(s)" in text

    # The regression test runs the minimal scenario: red with the bug, green without.
    spec = importlib.util.spec_from_file_location("regression", files.test)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    test = getattr(module, files.test.stem)
    monkeypatch.setattr(runner_module, "default_world", lambda: buggy)
    with pytest.raises(AssertionError, match="verdict=FAIL"):
        test()
    monkeypatch.setattr(runner_module, "default_world", ToyWorld)
    test()


def test_rerunning_writes_identical_files(tmp_path: Path) -> None:
    buggy = ToyWorld(bugs=["delete_before_ack"])
    outputs = []
    for name in ("one", "two"):
        out = tmp_path / name
        summary = fuzz_scenario(SMALL, runs=20, seed=2, world=buggy, out_dir=out)
        assert summary.finding is not None
        outputs.append(sorted((p.name, p.read_text()) for p in out.iterdir()))
    assert outputs[0] == outputs[1]


def crash_on_clock_steps(
    scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None
) -> WorldResult:
    if any(step.kind == "clock_step" for step in scenario.faults):
        raise ValueError("the clock went the wrong way")
    return ToyWorld()(scenario, seed=seed, progress=progress)


def test_a_crashing_world_is_a_finding_shrunk_and_written_down(tmp_path: Path) -> None:
    """Regression: a schedule that crashed the world aborted the campaign with no summary,
    and the line it printed to reproduce it ran the original scenario's own schedule."""
    summary = fuzz_scenario(SMALL, runs=40, seed=0, world=crash_on_clock_steps, out_dir=tmp_path)
    finding = summary.finding
    assert finding is not None, summary.text()
    assert finding.report is None
    assert len(finding.failed) == 1
    assert finding.failed[0].startswith("world crash: ValueError at test_scenario_fuzz.py:")
    assert finding.crash == "ValueError: the clock went the wrong way"
    assert [step.kind for step in finding.minimal] == ["clock_step"]
    assert summary.runs == summary.passed + 1

    files = finding.files
    assert files is not None
    written = load_scenario(files.scenario)
    assert (written.seed, written.faults) == (finding.seed, finding.minimal)
    with pytest.raises(InternalError, match="the clock went the wrong way"):
        run_scenario(files.scenario, world=crash_on_clock_steps, progress=False)
    text = summary.text()
    assert "crashed the simulated world: ValueError: the clock went the wrong way" in text
    assert text.endswith(f"reproduce: dmsim run {files.scenario} --seed {finding.seed}")


def refuse_clock_steps(
    scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None
) -> WorldResult:
    if any(step.kind == "clock_step" for step in scenario.faults):
        raise ScenarioError(Problem("until", "fault 'f5' ends at 16.4s, not after now (72.5s)"))
    return ToyWorld()(scenario, seed=seed, progress=progress)


def test_a_run_refused_midway_is_a_finding_not_the_end_of_the_campaign(tmp_path: Path) -> None:
    """Regression: a generated schedule whose run raised a ScenarioError inside the world (a
    device fault applied after its window) ended `dmsim fuzz` with the error and wrote
    nothing: the schedule came from the envelope, so the error is a defect to shrink."""
    summary = fuzz_scenario(SMALL, runs=40, seed=0, world=refuse_clock_steps, out_dir=tmp_path)
    finding = summary.finding
    assert finding is not None, summary.text()
    assert finding.crash is not None
    assert "not after now" in finding.crash
    assert [step.kind for step in finding.minimal] == ["clock_step"]
    assert finding.files is not None


def test_without_an_output_directory_the_reproduce_line_reruns_the_campaign() -> None:
    """Regression: the line named the scenario file with the finding's seed, which runs the
    file's own schedule, not the one found."""
    summary = fuzz_scenario(SMALL, runs=40, seed=0, world=crash_on_clock_steps)
    assert summary.finding is not None
    assert summary.text().endswith(f"reproduce: dmsim fuzz {SMALL} --runs 40 --seed 0 --out DIR")


def test_the_envelope_can_be_narrowed_and_widened_for_one_campaign() -> None:
    """``max_faults`` and ``kinds`` override the file's envelope for this campaign only: a
    search aimed at a few kinds, or at longer schedules, without editing the scenario."""
    seen: list[tuple[str, ...]] = []

    def recording(
        scenario: Scenario, *, seed: int, progress: Callable[[float], None] | None
    ) -> WorldResult:
        seen.append(tuple(step.kind for step in scenario.faults))
        return ToyWorld()(scenario, seed=seed, progress=progress)

    fuzz_scenario(SMALL, runs=20, seed=1, world=recording, max_faults=9, kinds={"link_down"})
    assert seen
    assert {kind for kinds in seen for kind in kinds} == {"link_down"}
    assert max(len(kinds) for kinds in seen) > 4  # the file's max_faults is 4


def test_an_overridden_campaign_allows_what_its_own_kinds_can_do() -> None:
    """The judged expectations follow the overridden kinds: a scenario whose own envelope
    cannot crash the machine, searched with crashes, allows the window's losses."""
    small = load_scenario(SMALL)
    no_crash = replace(
        small,
        expectations=replace(small.expectations, allowed=frozenset({"delivered", "pending"})),
        envelope=replace(small.envelope, kinds=frozenset({"link_down"})),
    )
    summary = fuzz_scenario(no_crash, runs=8, seed=1, world=ToyWorld(), kinds={"crash"})
    assert not summary.failed, summary.text()


def test_the_reproduce_line_carries_the_overrides() -> None:
    summary = fuzz_scenario(
        SMALL,
        runs=40,
        seed=0,
        world=crash_on_clock_steps,
        max_faults=6,
        kinds={"clock_step", "crash"},
    )
    assert summary.finding is not None
    assert summary.text().endswith(
        f"reproduce: dmsim fuzz {SMALL} --runs 40 --seed 0 --max-faults 6 "
        "--kinds clock_step,crash --out DIR"
    )


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"kinds": {"crash", "meteor"}}, "kinds: unknown fault kind 'meteor'"),
        ({"kinds": set()}, "kinds: expected at least one fault kind"),
        ({"kinds": {"disk_fill"}}, "kinds: none of disk_fill can be generated"),
        ({"max_faults": 0}, "max_faults: expected at least 1, got 0"),
    ],
)
def test_bad_overrides_are_refused_before_any_run(
    overrides: dict[str, object], fragment: str
) -> None:
    world = ToyWorld()
    with pytest.raises(ScenarioError, match=fragment):
        fuzz_scenario(SMALL, runs=3, world=world, **overrides)  # type: ignore[arg-type]
    assert world.calls == 0
