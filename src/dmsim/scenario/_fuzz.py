"""``dmsim fuzz``: generate fault schedules inside a scenario's envelope, run each, and shrink
the first failing one to a minimal schedule written out as a scenario and a regression test.

Generation is hypothesis driving :func:`dmsim.faults.fault_schedules` (plus a world seed)
through :func:`hypothesis.find` with no example database, generation only (our own shrinker
keeps absolute times, which hypothesis's would not), seeded from ``seed`` through the RNG
tree: the same seed explores the same schedules in the same order, whoever calls it. So the
campaign turns off hypothesis's habit of now and then drawing a literal found in the source
of the modules outside site-packages imported so far (which those are depends on the caller
and on an editable or wheel install; it also caches them under ``.hypothesis/`` in the
working directory). Hypothesis has no setting for it, so the provider's method is patched
for the campaign's duration; a test catches its renaming.

Generated schedules are judged by the scenario's schedule-independent expectations only:
which classes are allowed (window losses too when the envelope can crash the machine, policy
deletions when it can set a deletion rule or fill the disk, readings a clean shutdown gave up
on when it can also make the disk refuse writes), a consistent trace, and the
backlog draining after the last fault (the envelope's quiet tail leaves time for it).
Counts, rates and latency SLOs describe the scenario's own schedule and would fail for
reasons that are not bugs. A schedule *fails* when one of those expectations fails, or when
it crashes the simulated world (a dmsim bug, named by the exception and where it was
raised; an error the run raises, such as a device refusing a fault, counts too: a generated
schedule is not bad input). Shrinking keeps the world seed and accepts a smaller schedule only
if one of the original failures happens again, so it does not wander off to a different bug.

The finding's ``reproduce`` line runs the minimal scenario written to ``out_dir``; without
one, it is the campaign itself with an output directory to write that scenario to.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from dmsim.errors import DmsimError, Problem, ScenarioError
from dmsim.faults import KINDS, FaultSchedule, fault_schedules
from dmsim.runtime import RngTree

from ._envelope import deletes_by_policy
from ._ledger import REFUSING_DISK_KINDS
from ._loader import load_scenario
from ._model import Expectations, Scenario
from ._regress import RegressionFiles, write_regression
from ._report import Report
from ._result import WorldRunner
from ._runner import crash_site, default_world, run_scenario
from ._shrink import shrink_schedule

__all__ = [
    "DEFAULT_MAX_SHRINK_RUNS",
    "FuzzFinding",
    "FuzzSummary",
    "fuzz_expectations",
    "fuzz_scenario",
]

_MAX_WORLD_SEED = 2**32 - 1
DEFAULT_MAX_SHRINK_RUNS = 200


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """One run of a schedule: its report, or the crash of the simulated world."""

    report: Report | None
    crash: str = ""  # what crashed the world: "ValueError: message"
    crash_signature: str = ""  # the same crash, whatever its message: "ValueError at x.py:57"

    @property
    def passed(self) -> bool:
        return self.report is not None and self.report.passed

    def failed(self) -> tuple[str, ...]:
        if self.report is None:
            return (f"world crash: {self.crash_signature}",)
        return tuple(e.name for e in self.report.verdict.failed())

    def failures(self) -> str:
        """What failed, in detail."""
        if self.report is None:
            return f"world crash: {self.crash_signature} ({self.crash})"
        return ", ".join(f"{e.name} ({e.detail})" for e in self.report.verdict.failed())


@dataclass(frozen=True, slots=True)
class FuzzFinding:
    """The first failing run and its shrunk form. ``report`` is the minimal run's, or
    ``None`` when it crashed the simulated world (``crash`` says how); ``reproduce`` is the
    one line that gets the minimal run again."""

    run: int
    seed: int
    original: FaultSchedule
    minimal: FaultSchedule
    failed: tuple[str, ...]
    report: Report | None
    crash: str
    shrink_runs: int
    shrink_log: tuple[str, ...]
    files: RegressionFiles | None
    reproduce: str

    def schedule_lines(self) -> list[str]:
        """How the world crashed, if it did, and the shrunk schedule, a line per fault."""
        lines = [f"crashed the simulated world: {self.crash}"] if self.crash else []
        lines.append(
            f"shrunk {len(self.original)} → {len(self.minimal)} fault(s) in "
            f"{self.shrink_runs} run(s):"
        )
        return lines + [f"  {step.to_document()}" for step in self.minimal]


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
                f"run {finding.run} (seed {finding.seed}) failed {', '.join(finding.failed)}"
            )
            lines += finding.schedule_lines()
            if finding.files is not None:
                lines.append(f"scenario: {finding.files.scenario}")
                lines.append(f"test:     {finding.files.test}")
            lines.append(f"reproduce: {finding.reproduce}")
        return "\n".join(lines)


def judged_run(scenario: Scenario, world: WorldRunner) -> RunOutcome:
    """Run ``scenario``: its report, or how it crashed the world."""
    try:
        return RunOutcome(run_scenario(scenario, progress=False, world=world))
    # A crash of the world is a finding like any other; so is an error a generated schedule
    # meets midway (the schedule came from the envelope: it is not bad input).
    except DmsimError as error:
        cause = error.__cause__ or error
        return RunOutcome(
            None,
            crash=f"{type(cause).__name__}: {cause}",
            crash_signature=f"{type(cause).__name__} at {crash_site(error)}",
        )


class _Campaign:
    """Runs schedules (memoised: hypothesis replays its failing example once more)."""

    def __init__(
        self,
        scenario: Scenario,
        world: WorldRunner,
        runs: int,
        log: Callable[[str], None],
    ) -> None:
        self.scenario = scenario
        self.world = world
        self.total = runs
        self.log = log
        self.outcomes: dict[tuple[int, str], RunOutcome] = {}
        self.order: list[tuple[int, FaultSchedule]] = []

    def run(self, seed: int, schedule: FaultSchedule) -> RunOutcome:
        key = (seed, schedule.canonical())
        if key not in self.outcomes:
            scenario = self.scenario.with_faults(schedule).with_seed(seed)
            self.outcomes[key] = judged_run(scenario, self.world)
        return self.outcomes[key]

    def generated(self, example: tuple[int, FaultSchedule]) -> bool:
        seed, schedule = example
        fresh = (seed, schedule.canonical()) not in self.outcomes
        outcome = self.run(seed, schedule)
        if fresh:
            self.order.append(example)
            report = outcome.report
            verdict = (
                f"{report.verdict_text} ({report.wall_seconds:.2f}s)"
                if report is not None
                else outcome.failed()[0]
            )
            self.log(
                f"run {len(self.order)}/{self.total}: seed {seed}, {len(schedule)} fault(s): "
                f"{verdict}"
            )
        return not outcome.passed


def fuzz_scenario(
    path_or_scenario: str | os.PathLike[str] | Scenario,
    *,
    runs: int,
    seed: int = 0,
    out_dir: Path | None = None,
    world: WorldRunner | None = None,
    max_shrink_runs: int = DEFAULT_MAX_SHRINK_RUNS,
    max_faults: int | None = None,
    kinds: Collection[str] | None = None,
    log: Callable[[str], None] = lambda _line: None,
    wall_clock: Callable[[], float] = time.perf_counter,
) -> FuzzSummary:
    """Fuzz up to ``runs`` schedules; shrink and write down the first failure (if any).
    ``max_faults`` and ``kinds`` replace the scenario's envelope bounds for this campaign."""
    loaded = (
        path_or_scenario
        if isinstance(path_or_scenario, Scenario)
        else load_scenario(Path(path_or_scenario))
    )
    scenario = with_envelope_overrides(loaded, max_faults=max_faults, kinds=kinds)
    started = wall_clock()
    judged = replace(scenario, expectations=fuzz_expectations(scenario))
    runner = world if world is not None else default_world()
    campaign = _Campaign(judged, runner, runs, log)
    # hypothesis is imported here: it is slow to import and only fuzzing needs it
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis import strategies as st
    from hypothesis.errors import NoSuchExample

    strategy = st.tuples(
        st.integers(0, _MAX_WORLD_SEED),
        # at least one fault: hypothesis starts from the simplest schedule, and a run with
        # no fault costs as much as any other and tests only the quiet path
        fault_schedules(
            duration=scenario.duration_s,
            envelope=scenario.envelope,
            min_faults=min(1, scenario.envelope.max_faults),
        ),
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
        with without_source_literals():
            seed_found, schedule = find(strategy, campaign.generated, settings=config, random=rng)
    except NoSuchExample:
        return _summary(scenario, campaign, None, wall_clock() - started)
    finding = _shrink(
        campaign,
        seed_found,
        schedule,
        out_dir=out_dir,
        max_runs=max_shrink_runs,
        log=log,
        rerun=_fuzz_command(
            scenario,
            runs=runs,
            seed=seed,
            max_shrink_runs=max_shrink_runs,
            max_faults=max_faults,
            kinds=kinds,
        ),
    )
    return _summary(scenario, campaign, finding, wall_clock() - started)


@contextmanager
def without_source_literals() -> Iterator[None]:
    from unittest.mock import patch  # (imported by campaigns alone, as hypothesis is)

    from hypothesis.internal.conjecture.providers import HypothesisProvider

    if not hasattr(HypothesisProvider, "_maybe_draw_constant"):
        yield  # a hypothesis from before it drew literals
        return
    with patch.object(HypothesisProvider, "_maybe_draw_constant", _no_literal):
        yield


def _no_literal(*_args: object, **_kwargs: object) -> None:
    return None


def fuzz_expectations(scenario: Scenario) -> Expectations:
    """The part of a scenario's expectations that holds whatever the fault schedule its
    envelope generates. When the envelope can crash the machine, readings lost inside the
    durability window are allowed: that is the promise, and a scenario that leaves them out
    describes its own schedule, which had no crash. Likewise readings deleted by a disk
    policy, when the envelope can set a deletion rule or fill the disk, and readings a clean
    shutdown gave up on, when it can also make the disk refuse writes (the oracle checks that
    such a refusal was under way)."""
    expectations = scenario.expectations
    allowed = expectations.allowed
    kinds = scenario.envelope.usable_kinds()
    if "crash" in kinds:
        allowed = allowed | {"lost_in_window"}
    if deletes_by_policy(scenario.envelope):
        allowed = allowed | {"deleted_by_policy"}
    if "clean_restart" in kinds and REFUSING_DISK_KINDS & set(kinds):
        allowed = allowed | {"dropped"}
    return Expectations(
        allowed=allowed,
        drain_within_s=expectations.drain_within_s,
        drain_to_files=expectations.drain_to_files,
    )


def _summary(
    scenario: Scenario, campaign: _Campaign, finding: FuzzFinding | None, wall: float
) -> FuzzSummary:
    generated = [campaign.outcomes[(s, f.canonical())] for s, f in campaign.order]
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
    rerun: str,
) -> FuzzFinding:
    """Shrink the failing ``schedule`` and write it down; ``rerun`` is the line that gets it
    again when nothing is written."""
    failed = campaign.run(seed, schedule).failed()
    log(f"shrinking {len(schedule)} fault(s) (failed: {', '.join(failed)})")

    def still_fails(candidate: FaultSchedule) -> bool:
        return any(name in failed for name in campaign.run(seed, candidate).failed())

    shrunk = shrink_schedule(schedule, still_fails, max_runs=max_runs)
    for line in shrunk.log:
        log(f"  {line}")
    minimal = campaign.scenario.with_faults(shrunk.schedule).with_seed(seed)
    outcome = campaign.run(seed, shrunk.schedule)
    files = None
    reproduce = rerun
    if out_dir is not None:
        about = (
            f"Scenario {minimal.name!r}, seed {seed}: dmsim fuzz found a failing schedule of "
            f"{len(schedule)} fault(s) and shrank it to {len(shrunk.schedule)}.\n"
            f"Failed: {outcome.failures()}"
        )
        files = write_regression(minimal, out_dir=out_dir, about=about)
        reproduce = f"dmsim run {shlex.quote(str(files.scenario))} --seed {seed}"
    return FuzzFinding(
        run=campaign.order.index((seed, schedule)) + 1,
        seed=seed,
        original=schedule,
        minimal=shrunk.schedule,
        failed=failed,
        report=outcome.report,
        crash=outcome.crash,
        shrink_runs=shrunk.runs,
        shrink_log=shrunk.log,
        files=files,
        reproduce=reproduce,
    )


def with_envelope_overrides(
    scenario: Scenario, *, max_faults: int | None, kinds: Collection[str] | None
) -> Scenario:
    """``scenario`` with its envelope's fault count and kinds replaced, checked first."""
    if max_faults is None and kinds is None:
        return scenario
    problems = []
    envelope = scenario.envelope
    if max_faults is not None and max_faults < 1:
        problems.append(Problem("max_faults", f"expected at least 1, got {max_faults}"))
    elif max_faults is not None:
        envelope = replace(envelope, max_faults=max_faults)
    if kinds is not None:
        unknown = sorted(set(kinds) - KINDS.keys())
        if unknown:
            known = ", ".join(sorted(KINDS))
            problems.append(
                Problem("kinds", f"unknown fault kind {', '.join(map(repr, unknown))} ({known})")
            )
        elif not kinds:
            problems.append(Problem("kinds", "expected at least one fault kind"))
        else:
            envelope = replace(envelope, kinds=frozenset(kinds))
            if not envelope.usable_kinds():
                problems.append(
                    Problem(
                        "kinds",
                        f"none of {', '.join(sorted(kinds))} can be generated for this machine "
                        "(device faults need components, reconfigure needs capture methods or "
                        "data manager settings, disk_fill needs max_disk_fill of 1 MiB or more)",
                    )
                )
    if problems:
        raise ScenarioError(problems, source=f"{scenario.name}: fuzz envelope")
    return replace(scenario, envelope=envelope)


def _fuzz_command(
    scenario: Scenario,
    *,
    runs: int,
    seed: int,
    max_shrink_runs: int,
    max_faults: int | None,
    kinds: Collection[str] | None,
) -> str:
    """The campaign again, writing the minimal scenario this time."""
    if scenario.source is None:
        return f"fuzz_scenario(<scenario {scenario.name!r}>, runs={runs}, seed={seed}, out_dir=DIR)"
    options = [f"--runs {runs}", f"--seed {seed}"]
    if max_faults is not None:
        options.append(f"--max-faults {max_faults}")
    if kinds is not None:
        options.append(f"--kinds {','.join(sorted(kinds))}")
    options.append("--out DIR")
    if max_shrink_runs != DEFAULT_MAX_SHRINK_RUNS:
        options.append(f"--max-shrink-runs {max_shrink_runs}")
    return f"dmsim fuzz {shlex.quote(str(scenario.source))} {' '.join(options)}"
