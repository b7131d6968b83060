"""Running a scenario: world → oracle → report, optionally twice to check determinism.

The world that runs the machine is ``dmsim.scenario._world.run_world``; callers (tests, the
fuzzer, the pytest plugin) may pass their own ``world`` with the same shape. Wall time is
measured with an injectable ``wall_clock`` (only for the report; nothing in the run reads it).
"""

from __future__ import annotations

import importlib
import os
import shlex
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, cast

from dmsim.errors import DmsimError, InternalError
from dmsim.faults import format_duration

from ._expect import ExpectationResult
from ._loader import load_scenario
from ._model import Scenario
from ._report import DeterminismCheck, Report
from ._result import WorldResult, WorldRunner
from ._verdict import judge

__all__ = ["ProgressLine", "crash_site", "default_world", "reproduce_command", "run_scenario"]

ProgressArg = bool | Callable[[float], None]


def default_world() -> WorldRunner:
    """``dmsim.scenario._world.run_world``, imported on first use."""
    try:
        module = importlib.import_module("dmsim.scenario._world")
    except ModuleNotFoundError as error:
        if error.name != "dmsim.scenario._world":
            raise
        raise InternalError(
            "the simulated world (dmsim.scenario._world) is not available in this build"
        ) from None
    return cast(WorldRunner, module.run_world)


class ProgressLine:
    """Progress for long runs: shown once a run has taken ``after_s`` of wall time. On a
    terminal one line is rewritten at most every ``every_s``; anywhere else (a CI log) a whole
    line is written at most every ``log_every_s``. :meth:`finish` shows the final state."""

    def __init__(
        self,
        *,
        label: str,
        sim_seconds: float,
        stream: TextIO,
        wall_clock: Callable[[], float],
        after_s: float = 1.0,
        every_s: float = 0.5,
        log_every_s: float = 10.0,
    ) -> None:
        self._label = label
        self._sim = sim_seconds
        self._stream = stream
        self._clock = wall_clock
        self._start = wall_clock()
        self._after = after_s
        self._terminal = stream.isatty()
        self._every = every_s if self._terminal else log_every_s
        self._last_shown: float | None = None
        self._done = 0.0

    def __call__(self, fraction: float) -> None:
        self._done = min(max(fraction, 0.0), 1.0)
        now = self._clock()
        if now - self._start < self._after:
            return
        if self._last_shown is not None and now - self._last_shown < self._every:
            return
        self._last_shown = now
        self._show(now)

    def _show(self, now: float) -> None:
        text = (
            f"{self._label}: {100 * self._done:5.1f}% of {format_duration(self._sim)} simulated, "
            f"{now - self._start:.1f}s wall"
        )
        self._stream.write(f"\r{text}" if self._terminal else f"{text}\n")
        self._stream.flush()

    def finish(self) -> None:
        """The final state (when progress was shown at all), ending the line."""
        if self._last_shown is None:
            return
        self._done = 1.0
        self._show(self._clock())
        if self._terminal:
            self._stream.write("\n")
            self._stream.flush()


def reproduce_command(scenario: Scenario, seed: int, *, check_determinism: bool = False) -> str:
    """The one line that runs this scenario with this seed again."""
    if scenario.source is None:
        return f"run_scenario(<scenario {scenario.name!r}>, seed={seed})"
    flags = " --check-determinism" if check_determinism else ""
    return f"dmsim run {shlex.quote(str(scenario.source))} --seed {seed}{flags}"


def run_scenario(
    path_or_scenario: str | os.PathLike[str] | Scenario,
    *,
    seed: int | None = None,
    check_determinism: bool = False,
    progress: ProgressArg = True,
    world: WorldRunner | None = None,
    wall_clock: Callable[[], float] = time.perf_counter,
    stream: TextIO | None = None,
) -> Report:
    """Run a scenario and judge it. ``seed`` defaults to the scenario's own.

    ``progress``: ``True`` shows a progress line on ``stream`` (default stderr) for runs that
    take over a second, ``False`` shows nothing, a callable receives the fraction done.
    """
    scenario = (
        path_or_scenario
        if isinstance(path_or_scenario, Scenario)
        else load_scenario(Path(path_or_scenario))
    )
    run_seed = scenario.seed if seed is None else seed
    runner = world if world is not None else default_world()
    started = wall_clock()

    def once(what: str) -> WorldResult:
        return _run_once(
            runner,
            scenario,
            run_seed,
            what=what,
            progress=progress,
            wall_clock=wall_clock,
            stream=stream,
        )

    result = once("run")
    wall = wall_clock() - started
    verdict = judge(result, scenario.expectations)
    determinism = None
    if check_determinism:
        again = once("rerun")
        determinism = _compare(result, again)
        verdict = verdict.with_expectation(
            ExpectationResult(
                "deterministic",
                determinism.identical,
                determinism.divergence or f"2 runs, identical traces ({determinism.events} events)",
            )
        )
    return Report(
        scenario=scenario.name,
        scenario_path=str(scenario.source) if scenario.source else None,
        seed=run_seed,
        verdict=verdict,
        sim_seconds=result.sim_seconds,
        wall_seconds=wall,
        options=result.options,
        statistics=result.statistics,
        faults=scenario.faults,
        samples=tuple(result.samples),
        trace_digest=result.trace.digest(),
        reproduce=reproduce_command(scenario, run_seed, check_determinism=check_determinism),
        determinism=determinism,
    )


def _run_once(
    runner: WorldRunner,
    scenario: Scenario,
    seed: int,
    *,
    progress: ProgressArg,
    wall_clock: Callable[[], float],
    stream: TextIO | None,
    what: str,
) -> WorldResult:
    line = None
    if progress is True:
        line = ProgressLine(
            label=f"dmsim {what} {scenario.name}",
            sim_seconds=scenario.duration_s,
            stream=stream if stream is not None else sys.stderr,
            wall_clock=wall_clock,
        )
    callback = line if line is not None else (progress if callable(progress) else None)
    try:
        return runner(scenario, seed=seed, progress=callback)
    except DmsimError:
        raise
    except Exception as error:
        raise _world_failed(error, scenario, seed) from error
    finally:
        if line is not None:
            line.finish()


def _library(filename: str) -> bool:
    return "site-packages" in filename or filename.startswith(sysconfig.get_paths()["stdlib"])


def _world_failed(error: Exception, scenario: Scenario, seed: int) -> InternalError:
    """A crash inside the simulation is a dmsim bug: say where, and how to get it again."""
    site = crash_site(error)
    where = f" at {site}" if site else ""
    return InternalError(
        f"the simulated world failed{where}: {type(error).__name__}: {error}; "
        f"reproduce: {reproduce_command(scenario, seed)}"
    )


def crash_site(error: BaseException) -> str:
    """``file:line`` where the error behind ``error`` was raised: the innermost frame of our
    own code, not of a library it called (PIL, simpy); empty without a traceback."""
    origin = error
    while origin.__cause__ is not None:  # simpy re-raises a process's failure as the cause
        origin = origin.__cause__
    frames = traceback.extract_tb(origin.__traceback__)
    inside = [f for f in frames if not _library(f.filename)] or frames
    return f"{Path(inside[-1].filename).name}:{inside[-1].lineno}" if inside else ""


def _compare(first: WorldResult, second: WorldResult) -> DeterminismCheck:
    divergence = first.trace.first_divergence(second.trace)
    if divergence is None:
        return DeterminismCheck(identical=True, events=len(first.trace))
    return DeterminismCheck(identical=False, events=len(first.trace), divergence=str(divergence))
