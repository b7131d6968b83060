"""``dmsim fuzz --machines N``: the fuzzer on machines it draws, not one scenario's.

The library's scenarios fix their machines; bugs hide in the configs nobody wrote (a 0.9 s
stale-data threshold, a 200 ms backoff cap, a tiny file size). Each machine is a valid config
from :func:`dmsim.config.strategies.machine_configs` (every capturing type and method,
remotes, modules, any subset of the data manager's attributes), run as a scenario with small
payloads and rates capped (a vision service at 900 Hz rendering full-size images says nothing
more about the core than one at 5 Hz, and takes minutes a run). Each gets ``runs`` schedules
from its own envelope (:func:`fuzz_scenario`); the first failure is shrunk twice: its
schedule (as ``dmsim fuzz`` does), then its config, by deleting what the failure does not
need (a component, a capture method, an attribute...), keeping each deletion that parses and
still fails one of the same expectations with the same world seed. The minimal scenario is
written with a regression test, like any fuzzer finding.

Machines are drawn through :func:`hypothesis.find` with no database, generation only,
seeded from the campaign's seed: the same seed draws the same machines.
"""

from __future__ import annotations

import json
import shlex
import tempfile
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from copy import deepcopy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dmsim.errors import DmsimError
from dmsim.faults import FaultSchedule
from dmsim.runtime import RngTree

from ._fuzz import (
    DEFAULT_MAX_SHRINK_RUNS,
    FuzzFinding,
    RunOutcome,
    fuzz_expectations,
    fuzz_scenario,
    judged_run,
    with_envelope_overrides,
    without_source_literals,
)
from ._loader import parse_scenario
from ._model import Scenario
from ._regress import RegressionFiles, write_regression
from ._report import Report
from ._result import WorldRunner
from ._runner import default_world

__all__ = [
    "MAX_RATE_HZ",
    "MachineFinding",
    "MachinesFuzzSummary",
    "fuzz_machines",
    "machine_scenario",
    "random_machines",
    "rates_capped",
]

#: The fastest capture a drawn machine keeps (the strategy draws up to 1 kHz).
MAX_RATE_HZ = 5.0
_PAYLOAD = {"image_width": 32, "image_height": 24, "point_count": 50}
_EPOCH = "2026-04-20T12:00:00Z"

ConfigPath = tuple[str | int, ...]  # where a node sits in a config document


def _capture_methods(config: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each capture method with the type of what holds it (``remote`` for a remote part)."""
    holders = [*config.get("components", []), *config.get("services", [])]
    holders += config.get("remotes", [])
    for holder in holders:
        for service in holder.get("service_configs", []):
            for method in service.get("attributes", {}).get("capture_methods", []):
                yield holder.get("type", "remote"), method


def rates_capped(config: dict[str, Any], max_rate_hz: float = MAX_RATE_HZ) -> dict[str, Any]:
    """``config`` with every capture method at ``max_rate_hz`` or slower (in place)."""
    for _holder, method in _capture_methods(config):
        method["capture_frequency_hz"] = min(method["capture_frequency_hz"], max_rate_hz)
    return config


def machine_scenario(
    config: dict[str, Any], *, name: str, seed: int, duration_s: float
) -> Scenario:
    """A scenario running ``config`` for ``duration_s`` with small images and point clouds,
    no faults, the default envelope."""
    return parse_scenario(
        {
            "name": name,
            "seed": seed,
            "epoch": _EPOCH,
            "duration": f"{duration_s:g}s",
            "machine": config,
            "payload": _PAYLOAD,
        },
        source=name,
    )


def random_machines(count: int, *, seed: int) -> list[dict[str, Any]]:
    """Up to ``count`` valid machine configs, rates capped, the same for the same seed. Each
    captures something, and what it captures (which types, which methods) differs from the
    others': hypothesis generates by mutating what it drew before, so configs merely
    distinct would be the same machine with other attributes."""
    # hypothesis is imported here: it is slow to import and only fuzzing needs it
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis.errors import NoSuchExample

    from dmsim.config.strategies import machine_configs

    drawn: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def collect(config: dict[str, Any]) -> bool:
        captures = tuple(sorted((holder, m["method"]) for holder, m in _capture_methods(config)))
        if captures:
            drawn.setdefault(captures, rates_capped(deepcopy(config)))
        return len(drawn) >= count

    config = settings(
        max_examples=count * 50,  # ~10 draws a new machine here; a draw takes ~5 ms
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    rng = RngTree(seed).child("machines").random()
    # names are drawn as text, and hypothesis caches its Unicode tables under .hypothesis/ in
    # the working directory: a campaign leaves nothing there (None restores the default)
    with tempfile.TemporaryDirectory(prefix="dmsim-hypothesis-") as home:
        set_hypothesis_home_dir(home)
        try:
            with without_source_literals():
                find(machine_configs(max_components=3, max_remotes=1), collect,
                     settings=config, random=rng)  # fmt: skip
        except NoSuchExample:
            pass  # fewer distinct machines than asked for
        finally:
            set_hypothesis_home_dir(None)
    return list(drawn.values())[:count]


@dataclass(frozen=True, slots=True)
class MachineFinding:
    """The first machine that failed: its schedule's finding, and its config shrunk under the
    minimal schedule (``removed`` names each deletion, as a path in the config)."""

    machine: int  # 1-based, in drawing order
    fuzz: FuzzFinding
    config: dict[str, Any]
    removed: tuple[str, ...]
    config_runs: int
    report: Report | None
    files: RegressionFiles | None
    reproduce: str


@dataclass(frozen=True, slots=True)
class MachinesFuzzSummary:
    machines: int
    runs: int
    passed: int
    finding: MachineFinding | None
    wall_seconds: float

    @property
    def failed(self) -> bool:
        return self.finding is not None

    def text(self) -> str:
        lines = [
            f"dmsim fuzz: {self.machines} random machine(s), {self.runs} run(s), "
            f"{self.passed} passed, {'1 failure' if self.finding else 'no failure'} "
            f"in {self.wall_seconds:.1f}s"
        ]
        finding = self.finding
        if finding is None:
            return "\n".join(lines)
        fuzz = finding.fuzz
        lines.append(
            f"machine {finding.machine}, seed {fuzz.seed}: failed {', '.join(fuzz.failed)}"
        )
        lines += fuzz.schedule_lines()
        lines.append(
            f"config: {len(finding.removed)} part(s) removed in {finding.config_runs} run(s)"
            + (f": {', '.join(finding.removed)}" if finding.removed else "")
        )
        if finding.report is not None:
            failed = finding.report.verdict.failed()
            lines += [f"  {e.name}: {e.detail}" for e in failed]
        if finding.files is not None:
            lines.append(f"scenario: {finding.files.scenario}")
            lines.append(f"test:     {finding.files.test}")
        lines.append(f"reproduce: {finding.reproduce}")
        return "\n".join(lines)


def fuzz_machines(
    *,
    machines: int,
    runs: int,
    seed: int = 0,
    duration_s: float = 600.0,
    out_dir: Path | None = None,
    world: WorldRunner | None = None,
    max_shrink_runs: int = DEFAULT_MAX_SHRINK_RUNS,
    max_faults: int | None = None,
    kinds: Collection[str] | None = None,
    log: Callable[[str], None] = lambda _line: None,
    wall_clock: Callable[[], float] = time.perf_counter,
) -> MachinesFuzzSummary:
    """Draw ``machines`` configs and fuzz ``runs`` schedules on each, stopping at the first
    failure, which is shrunk (schedule, then config) and written to ``out_dir``."""
    started = wall_clock()
    runner = world if world is not None else default_world()
    tree = RngTree(seed).child("machine-campaign")
    drawn = random_machines(machines, seed=seed)
    total = passed = 0
    for index, config in enumerate(drawn, start=1):
        log(f"machine {index}/{len(drawn)}: {_describe_machine(config)}")
        # every drawn machine captures from a resource: the overrides fit all or none
        scenario = with_envelope_overrides(
            machine_scenario(config, name=f"machine-{index}", seed=index, duration_s=duration_s),
            max_faults=max_faults,
            kinds=kinds,
        )
        summary = fuzz_scenario(
            scenario,
            runs=runs,
            seed=tree.child(str(index)).derived_seed(),
            world=runner,
            max_shrink_runs=max_shrink_runs,
            log=lambda line: log(f"  {line}"),
        )
        total += summary.runs
        passed += summary.passed
        if summary.finding is not None:
            finding = _shrink_machine(
                index,
                config,
                scenario,
                summary.finding,
                world=runner,
                max_runs=max_shrink_runs,
                out_dir=out_dir,
                log=log,
                rerun=_rerun(machines, runs, seed=seed, duration_s=duration_s,
                             max_faults=max_faults, kinds=kinds),
            )  # fmt: skip
            return MachinesFuzzSummary(len(drawn), total, passed, finding, wall_clock() - started)
    return MachinesFuzzSummary(len(drawn), total, passed, None, wall_clock() - started)


def _shrink_machine(
    index: int,
    config: dict[str, Any],
    scenario: Scenario,
    fuzz: FuzzFinding,
    *,
    world: WorldRunner,
    max_runs: int,
    out_dir: Path | None,
    log: Callable[[str], None],
    rerun: str,
) -> MachineFinding:
    """Delete what the failure does not need from ``config``, under the minimal schedule."""
    log(f"shrinking machine {index}'s config (failed: {', '.join(fuzz.failed)})")
    wanted = set(fuzz.failed)
    memo: dict[str, RunOutcome | None] = {}  # None: not a valid machine for the schedule
    runs = 0

    def outcome(candidate: dict[str, Any]) -> RunOutcome | None:
        nonlocal runs
        key = _canonical(candidate)
        if key not in memo:
            try:
                judged = _judged(candidate, scenario, fuzz.minimal, fuzz.seed)
            except DmsimError:  # a config that does not parse, a fault naming what is gone
                memo[key] = None
                return None
            if runs >= max_runs:
                return None
            runs += 1
            memo[key] = judged_run(judged, world)
        return memo[key]

    def still_fails(candidate: dict[str, Any]) -> bool:
        result = outcome(candidate)
        return result is not None and bool(wanted & set(result.failed()))

    removed: list[str] = []
    current = config
    # passes over every node, outermost first, until one deletes nothing; within a pass a
    # rejected node is not tried again (after a deletion every try would be a new run)
    deleted_in_pass = True
    while deleted_in_pass and runs < max_runs:
        deleted_in_pass = False
        rejected: set[ConfigPath] = set()
        path = _next_deletion(current, rejected, still_fails)
        while path is not None:
            removed.append(_dotted(path))
            log(f"  removed {_dotted(path)}")
            current = _without(current, path)
            deleted_in_pass = True
            path = _next_deletion(current, rejected, still_fails)
    last = outcome(current) if removed else None
    report = last.report if last is not None else fuzz.report
    files = None
    reproduce = rerun
    if out_dir is not None:
        about = (
            f"A random machine (`dmsim fuzz --machines`, machine {index}), seed {fuzz.seed}: "
            f"a failing schedule of {len(fuzz.original)} fault(s) shrunk to "
            f"{len(fuzz.minimal)}, and its config shrunk by {len(removed)} part(s).\n"
            f"Failed: {', '.join(fuzz.failed)}"
        )
        minimal = _judged(current, scenario, fuzz.minimal, fuzz.seed)
        files = write_regression(minimal, out_dir=out_dir, about=about)
        reproduce = f"dmsim run {shlex.quote(str(files.scenario))} --seed {fuzz.seed}"
    return MachineFinding(
        machine=index,
        fuzz=fuzz,
        config=current,
        removed=tuple(removed),
        config_runs=runs,
        report=report,
        files=files,
        reproduce=reproduce,
    )


def _judged(
    config: dict[str, Any], scenario: Scenario, schedule: FaultSchedule, seed: int
) -> Scenario:
    """``config`` as ``scenario`` was built, with ``schedule``, judged as the fuzzer judges."""
    built = replace(
        machine_scenario(
            config, name=scenario.name, seed=scenario.seed, duration_s=scenario.duration_s
        ),
        envelope=scenario.envelope,  # with the campaign's overrides
    )
    judged = replace(built, expectations=fuzz_expectations(built))
    return judged.with_faults(schedule).with_seed(seed)


def _next_deletion(
    doc: dict[str, Any],
    rejected: set[ConfigPath],
    still_fails: Callable[[dict[str, Any]], bool],
) -> ConfigPath | None:
    """The first node of ``doc`` not yet rejected whose deletion still fails (each one that
    does not is added to ``rejected``)."""
    for path in _deletable(doc):
        if path not in rejected:
            if still_fails(_without(doc, path)):
                return path
            rejected.add(path)
    return None


def _deletable(doc: Any) -> Iterator[ConfigPath]:
    """Every key and list item of ``doc``, outermost first (deleting a component before
    trying its attributes one by one)."""
    queue: deque[tuple[ConfigPath, Any]] = deque([((), doc)])
    while queue:
        path, node = queue.popleft()
        children: list[tuple[str | int, Any]] = (
            list(node.items())
            if isinstance(node, dict)
            else list(enumerate(node))
            if isinstance(node, list)
            else []
        )
        for key, child in children:
            yield (*path, key)
            queue.append(((*path, key), child))


def _without(doc: dict[str, Any], path: ConfigPath) -> dict[str, Any]:
    """A copy of ``doc`` without the node at ``path`` (a ``depends_on`` naming a deleted
    component is left: the config parser accepts it, and it is a node to delete in turn)."""
    copy = deepcopy(doc)
    parent: Any = copy
    for key in path[:-1]:
        parent = parent[key]
    parent.pop(path[-1])
    return copy


def _dotted(path: ConfigPath) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def _canonical(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True)


def _describe_machine(config: dict[str, Any]) -> str:
    components = [f"{c['type']} {c['name']}" for c in config.get("components", [])]
    remotes = len(config.get("remotes", []))
    shown = ", ".join(components) or "no components"
    return shown + (f", {remotes} remote(s)" if remotes else "")


def _rerun(
    machines: int,
    runs: int,
    *,
    seed: int,
    duration_s: float,
    max_faults: int | None,
    kinds: Collection[str] | None,
) -> str:
    """The campaign again, writing the minimal scenario this time."""
    options = [f"--machines {machines}", f"--runs {runs}", f"--seed {seed}"]
    if duration_s != 600.0:
        options.append(f"--duration {duration_s:g}s")
    if max_faults is not None:
        options.append(f"--max-faults {max_faults}")
    if kinds is not None:
        options.append(f"--kinds {','.join(sorted(kinds))}")
    return f"dmsim fuzz {' '.join(options)} --out DIR"
