"""``dmsim fuzz``: generate fault schedules inside a scenario's envelope, run each, and shrink
the first failing one to a minimal schedule written out as a scenario and a regression test.

Generation is hypothesis driving :func:`dmsim.faults.fault_schedules` (plus a world seed)
through :func:`hypothesis.find` with no example database, generation only (our own shrinker
keeps absolute times, which hypothesis's would not), seeded from ``seed`` through the RNG
tree: the same seed explores the same schedules in the same order.

Generated schedules are judged by the scenario's schedule-independent expectations only:
which classes are allowed, a consistent trace, and the backlog draining after the last fault
(the envelope's quiet tail leaves time for it). Counts, rates and latency SLOs describe the
scenario's own schedule and would fail for reasons that are not bugs. A schedule *fails*
when one of those expectations fails. Shrinking keeps the world seed and accepts a smaller
schedule only if one of the originally failed expectations fails again, so it does not wander
off to a different bug.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from dmsim.errors import InternalError
from dmsim.faults import FaultSchedule, fault_schedules
from dmsim.runtime import RngTree

from ._loader import load_scenario
from ._model import Expectations, Scenario
from ._regress import RegressionFiles, write_regression
from ._report import Report
from ._result import WorldRunner
from ._runner import default_world, run_scenario
from ._shrink import shrink_schedule

__all__ = ["FuzzFinding", "FuzzSummary", "fuzz_expectations", "fuzz_scenario"]

_MAX_WORLD_SEED = 2**32 - 1


@dataclass(frozen=True, slots=True)
class FuzzFinding:
    """The first failing run and its shrunk form (``report`` is the minimal run's)."""

    run: int
    seed: int
    original: FaultSchedule
    minimal: FaultSchedule
    failed: tuple[str, ...]
    report: Report
    shrink_runs: int
    shrink_log: tuple[str, ...]
    files: RegressionFiles | None


@dataclass(frozen=True, slots=True)
class FuzzSummary:
    scenario: str
    runs: int
    passed: int
    finding: FuzzFinding | None
    wall_seconds: float

    @property
    def failed(self) -> bool:
        return self.finding is not None

    def text(self) -> str:
        lines = [
            f"dmsim fuzz: {self.scenario}: {self.runs} run(s), {self.passed} passed, "
            f"{'1 failure' if self.finding else 'no failure'} in {self.wall_seconds:.1f}s"
        ]
        finding = self.finding
        if finding is not None:
            lines.append(
                f"run {finding.run} (seed {finding.seed}) failed {', '.join(finding.failed)}; "
                f"shrunk {len(finding.original)} → {len(finding.minimal)} fault(s) in "
                f"{finding.shrink_runs} run(s):"
            )
            lines += [f"  {step.to_document()}" for step in finding.minimal]
            reproduce = finding.report.reproduce
            if finding.files is not None:
                lines.append(f"scenario: {finding.files.scenario}")
                lines.append(f"test:     {finding.files.test}")
                reproduce = f"dmsim run {finding.files.scenario} --seed {finding.seed}"
            lines.append(f"reproduce: {reproduce}")
        return "\n".join(lines)


class _Campaign:
    """Runs schedules (memoised: hypothesis replays its failing example once more)."""

    def __init__(
        self,
        scenario: Scenario,
        world: WorldRunner,
        runs: int,
        log: Callable[[str], None],
        out_dir: Path | None,
    ) -> None:
        self.scenario = scenario
        self.world = world
        self.total = runs
        self.log = log
        self.out_dir = out_dir
        self.reports: dict[tuple[int, str], Report] = {}
        self.order: list[tuple[int, FaultSchedule]] = []

    def run(self, seed: int, schedule: FaultSchedule) -> Report:
        key = (seed, schedule.canonical())
        if key not in self.reports:
            scenario = self.scenario.with_faults(schedule).with_seed(seed)
            try:
                self.reports[key] = run_scenario(scenario, progress=False, world=self.world)
            except InternalError as error:
                raise self._crashed(error, scenario) from error
        return self.reports[key]

    def _crashed(self, error: InternalError, scenario: Scenario) -> InternalError:
        """The simulation itself failed: keep the schedule that did it (a finding too)."""
        if self.out_dir is None:
            return error
        about = f"dmsim fuzz: the simulated world failed on this schedule.\n{error}"
        files = write_regression(scenario, out_dir=self.out_dir, about=about)
        return InternalError(f"{error}; the schedule is in {files.scenario}")

    def generated(self, example: tuple[int, FaultSchedule]) -> bool:
        seed, schedule = example
        fresh = (seed, schedule.canonical()) not in self.reports
        report = self.run(seed, schedule)
        if fresh:
            self.order.append(example)
            self.log(
                f"run {len(self.order)}/{self.total}: seed {seed}, {len(schedule)} fault(s): "
                f"{report.verdict_text} ({report.wall_seconds:.2f}s)"
            )
        return not report.passed


def fuzz_scenario(
    path_or_scenario: str | os.PathLike[str] | Scenario,
    *,
    runs: int,
    seed: int = 0,
    out_dir: Path | None = None,
    world: WorldRunner | None = None,
    max_shrink_runs: int = 200,
    log: Callable[[str], None] = lambda _line: None,
    wall_clock: Callable[[], float] = time.perf_counter,
) -> FuzzSummary:
    """Fuzz up to ``runs`` schedules; shrink and write down the first failure (if any)."""
    scenario = (
        path_or_scenario
        if isinstance(path_or_scenario, Scenario)
        else load_scenario(Path(path_or_scenario))
    )
    started = wall_clock()
    judged = replace(scenario, expectations=fuzz_expectations(scenario.expectations))
    runner = world if world is not None else default_world()
    campaign = _Campaign(judged, runner, runs, log, out_dir)
    # hypothesis is imported here: it is slow to import and only fuzzing needs it
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample

    strategy = st.tuples(
        st.integers(0, _MAX_WORLD_SEED),
        fault_schedules(duration=scenario.duration_s, envelope=scenario.envelope),
    )
    config = settings(
        max_examples=max(runs, 1),
        database=None,
        deadline=None,
        phases=[Phase.generate],
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    rng = RngTree(seed).child("fuzz").random()
    try:
        seed_found, schedule = find(strategy, campaign.generated, settings=config, random=rng)
    except NoSuchExample:
        return _summary(scenario, campaign, None, wall_clock() - started)
    finding = _shrink(
        campaign, seed_found, schedule, out_dir=out_dir, max_runs=max_shrink_runs, log=log
    )
    return _summary(scenario, campaign, finding, wall_clock() - started)


def fuzz_expectations(expectations: Expectations) -> Expectations:
    """The part of a scenario's expectations that holds whatever the fault schedule."""
    return Expectations(
        allowed=expectations.allowed,
        drain_within_s=expectations.drain_within_s,
        drain_to_files=expectations.drain_to_files,
    )


def _summary(
    scenario: Scenario, campaign: _Campaign, finding: FuzzFinding | None, wall: float
) -> FuzzSummary:
    generated = [campaign.reports[(s, f.canonical())] for s, f in campaign.order]
    return FuzzSummary(
        scenario=scenario.name,
        runs=len(generated),
        passed=sum(1 for r in generated if r.passed),
        finding=finding,
        wall_seconds=wall,
    )


def _shrink(
    campaign: _Campaign,
    seed: int,
    schedule: FaultSchedule,
    *,
    out_dir: Path | None,
    max_runs: int,
    log: Callable[[str], None],
) -> FuzzFinding:
    first = campaign.run(seed, schedule)
    failed = tuple(e.name for e in first.verdict.failed())
    log(f"shrinking {len(schedule)} fault(s) (failed: {', '.join(failed)})")

    def still_fails(candidate: FaultSchedule) -> bool:
        report = campaign.run(seed, candidate)
        return any(e.name in failed for e in report.verdict.failed())

    shrunk = shrink_schedule(schedule, still_fails, max_runs=max_runs)
    for line in shrunk.log:
        log(f"  {line}")
    minimal = campaign.scenario.with_faults(shrunk.schedule).with_seed(seed)
    report = campaign.run(seed, shrunk.schedule)
    files = None
    if out_dir is not None:
        about = (
            f"Scenario {minimal.name!r}, seed {seed}: dmsim fuzz found a failing schedule of "
            f"{len(schedule)} fault(s) and shrank it to {len(shrunk.schedule)}.\n"
            f"Failed: {', '.join(e.name + ' (' + e.detail + ')' for e in report.verdict.failed())}"
        )
        files = write_regression(minimal, out_dir=out_dir, about=about)
    return FuzzFinding(
        run=campaign.order.index((seed, schedule)) + 1,
        seed=seed,
        original=schedule,
        minimal=shrunk.schedule,
        failed=failed,
        report=report,
        shrink_runs=shrunk.runs,
        shrink_log=shrunk.log,
        files=files,
    )
