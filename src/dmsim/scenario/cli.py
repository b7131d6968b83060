"""``dmsim run``, ``dmsim fuzz`` and ``dmsim scenario schema|validate``.

- ``dmsim run SCENARIO [--seed N] [--json REPORT] [--plot PNG] [--check-determinism]``: exit 0
  iff every expectation holds (1 otherwise); the summary on stdout, progress on stderr.
- ``dmsim fuzz SCENARIO --runs N [--out DIR] [--seed N] [--max-faults N] [--kinds K,...]``:
  exit 1 when a failing schedule was found (and shrunk, and written to ``--out``), 0
  otherwise. ``dmsim fuzz --machines M --runs N [--duration D] ...``: the same on ``M``
  machine configs it draws (:mod:`._fuzz_machines`), the failing config shrunk too.
- ``dmsim scenario schema``: print the scenario JSON Schema.
- ``dmsim scenario validate FILE...``: exit 0 iff every file is a valid scenario.

Bad input (a missing or invalid scenario, an unwritable output path) exits 2 with the
problems and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from dmsim.config import DEFAULT_PROMISE, load_machine_config
from dmsim.errors import CloudError, Problem, ScenarioError
from dmsim.faults import format_duration, parse_duration

from ._fuzz import DEFAULT_MAX_SHRINK_RUNS, fuzz_scenario
from ._fuzz_machines import fuzz_machines
from ._judge import judge_real_run
from ._loader import load_scenario
from ._plot import write_timeline_png
from ._report import Report, write_report_json
from ._runner import run_scenario
from ._schema import shipped_schema
from ._wallclock import run_on_wall_clock, wall_clock_problems

__all__ = ["check_writable", "register", "seed_arg", "show_report"]


def _kind_list(text: str) -> frozenset[str]:
    """Comma-separated fault kinds (the fuzzer names any unknown one)."""
    return frozenset(kind.strip() for kind in text.split(",") if kind.strip())


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed_arg(text: str) -> int:
    """An argparse type: a root seed, a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add ``run``, ``fuzz`` and ``scenario`` to the ``dmsim`` parser."""
    run = subparsers.add_parser(
        "run",
        help="run a scenario on simulated time and judge every reading",
        description="Run a scenario and check its expectations; exit 0 iff all hold.",
    )
    run.add_argument("scenario", metavar="SCENARIO", help="a *.scenario.yaml file")
    run.add_argument("--seed", type=seed_arg, help="root seed (default: the scenario's)")
    run.add_argument("--json", type=Path, metavar="REPORT", help="write the JSON report here")
    run.add_argument("--plot", type=Path, metavar="PNG", help="write the timeline plot here")
    run.add_argument(
        "--check-determinism",
        action="store_true",
        help="run twice and fail on the first diverging trace event",
    )
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.add_argument(
        "--wall-clock",
        action="store_true",
        help="run it for real: dmsim machine, the gRPC cloud and the fault proxy on this host, "
        "faults through real means, judged by dmsim judge (takes the scenario's duration)",
    )
    run.add_argument(
        "--workdir", type=Path, help="with --wall-clock: where the run's files go (a new dir)"
    )
    run.set_defaults(handler=_run)

    fuzz = subparsers.add_parser(
        "fuzz",
        help="generate fault schedules, run them, shrink the first failure",
        description="Generate fault schedules inside the scenario's envelope and run each; "
        "shrink the first failing schedule and write it with a regression test. Generated "
        "schedules are judged by the expectations that hold for any schedule (allowed "
        "classes, plus lost_in_window when the envelope can crash the machine; a consistent "
        "trace; drain_within); counts, rates and latency bounds "
        "describe the scenario's own schedule and are not checked. With --machines instead "
        "of a scenario, draw that many valid machine configs and fuzz each; the first "
        "failing config is shrunk too.",
    )
    fuzz.add_argument("scenario", metavar="SCENARIO", nargs="?", help="a *.scenario.yaml file")
    fuzz.add_argument(
        "--machines",
        type=_positive_int,
        metavar="M",
        help="instead of a SCENARIO: draw M random machine configs (rates capped at 5 Hz, "
        "small images) and fuzz --runs schedules on each",
    )
    fuzz.add_argument(
        "--duration", help="with --machines: each run's simulated duration (default 10m)"
    )
    fuzz.add_argument(
        "--runs", type=_positive_int, required=True, help="schedules to try (per machine)"
    )
    fuzz.add_argument("--out", type=Path, metavar="DIR", help="where to write a finding")
    fuzz.add_argument("--seed", type=seed_arg, default=0, help="fuzzing seed (default 0)")
    fuzz.add_argument(
        "--max-shrink-runs",
        type=_positive_int,
        default=DEFAULT_MAX_SHRINK_RUNS,
        help=f"run budget for shrinking (default {DEFAULT_MAX_SHRINK_RUNS})",
    )
    fuzz.add_argument(
        "--max-faults",
        type=_positive_int,
        metavar="N",
        help="longest schedule to generate, replacing the scenario's fuzz.envelope.max_faults",
    )
    fuzz.add_argument(
        "--kinds",
        type=_kind_list,
        metavar="KIND,...",
        help="fault kinds to generate, replacing the scenario's fuzz.envelope.kinds",
    )
    fuzz.set_defaults(handler=_fuzz)

    judge = subparsers.add_parser(
        "judge",
        help="judge a real run reading by reading: a machine's --trace against the cloud",
        description="Follow every reading a real machine captured (`dmsim machine --trace`) "
        "to the fake cloud's store (`dmsim cloud serve --data`) with the simulation's "
        "oracle: delivered once, lost inside the durability window at a crash, deleted by a "
        "named rule, quarantined, pending — or lost, duplicated, corrupted; and the "
        "stale-data warning, true and in time, across the wall-clock sets the trace shows. "
        "Exit 0 iff no reading is a violation, the warning held and the trace is consistent.",
    )
    judge.add_argument("--trace", type=Path, required=True, help="the machine's --trace file")
    judge.add_argument("--cloud-data", type=Path, required=True, help="the cloud's --data dir")
    judge.add_argument("--config", type=Path, help="the machine config (its durability window)")
    judge.add_argument(
        "--drain-within", help="readings still on the machine this long after capture are lost"
    )
    judge.add_argument(
        "--files",
        type=Path,
        metavar="LOG",
        help="files other programs completed in the machine's additional_sync_paths, a JSON "
        'line each: {"time": ISO-8601, "kind": "file.written", "path": absolute, "size": '
        'bytes, "digest": SHA-256 hex}; each is followed to the cloud\'s FileUpload store: '
        "once, whole, never half written",
    )
    judge.add_argument("--json", type=Path, metavar="REPORT", help="write the verdict as JSON")
    judge.set_defaults(handler=_judge)

    scenario = subparsers.add_parser("scenario", help="scenario file tools")
    scenario.set_defaults(handler=lambda _args: _usage(scenario))
    commands = scenario.add_subparsers(title="scenario commands", metavar="COMMAND")
    schema = commands.add_parser("schema", help="print the scenario file JSON Schema")
    schema.set_defaults(handler=_schema)
    validate = commands.add_parser("validate", help="check scenario files")
    validate.add_argument("files", metavar="FILE", nargs="+", type=Path)
    validate.set_defaults(handler=_validate)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def check_writable(path: Path | None, option: str) -> None:
    """Create the report's directory up front, so a long run never fails at its very end."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ScenarioError(
            Problem(option, f"cannot write {path}: {error.strerror or error}")
        ) from None
    if path.is_dir():
        raise ScenarioError(Problem(option, f"cannot write {path}: it is a directory"))
    existed = path.exists()
    try:
        with path.open("ab"):  # can a file be made there (not only its directory)?
            pass
    except OSError as error:
        raise ScenarioError(
            Problem(option, f"cannot write {path}: {error.strerror or error}")
        ) from None
    if not existed:
        path.unlink()


def _run(args: argparse.Namespace) -> int:
    if args.wall_clock:
        return _run_wall_clock(args)
    if args.workdir is not None:
        raise ScenarioError(Problem("--workdir", "only with --wall-clock"))
    check_writable(args.json, "--json")
    check_writable(args.plot, "--plot")
    report = run_scenario(
        Path(args.scenario),
        seed=args.seed,
        check_determinism=args.check_determinism,
        progress=not args.quiet,
    )
    return show_report(report, json_path=args.json, plot_path=args.plot)


def show_report(report: Report, *, json_path: Path | None, plot_path: Path | None) -> int:
    """Print a run's summary, write its JSON report and plot if asked; the exit status."""
    print(report.summary())
    if json_path is not None:
        write_report_json(report, json_path)
        print(f"report: {json_path}")
    if plot_path is not None:
        write_timeline_png(report, plot_path)
        print(f"plot: {plot_path}")
    return 0 if report.passed else 1


def _run_wall_clock(args: argparse.Namespace) -> int:
    unsupported = [
        option
        for option, value in (
            ("--seed", args.seed),
            ("--plot", args.plot),
            ("--check-determinism", args.check_determinism or None),
        )
        if value is not None
    ]
    if unsupported:
        raise ScenarioError(Problem(", ".join(unsupported), "not with --wall-clock"))
    scenario = load_scenario(Path(args.scenario))
    problems = wall_clock_problems(scenario)
    if problems:
        raise ScenarioError(problems, source=args.scenario)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"dmsim-{scenario.name}-"))
    if workdir.exists() and any(workdir.iterdir()):
        raise ScenarioError(Problem("--workdir", f"{workdir} is not empty"))
    check_writable(args.json, "--json")

    def log(line: str) -> None:
        if not args.quiet:
            print(f"dmsim run {scenario.name} (wall clock): {line}", file=sys.stderr, flush=True)

    result = run_on_wall_clock(scenario, workdir, log=log)
    print(result.summary())
    if args.json is not None:
        report = {**result.verdict.to_json(), "expectations": [
            {"name": e.name, "ok": e.ok, "detail": e.detail} for e in result.expectations
        ], "not_judged": list(result.unjudged), "workdir": str(workdir)}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"report: {args.json}")
    return 0 if result.passed else 1


def _fuzz(args: argparse.Namespace) -> int:
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ScenarioError(Problem("--out", f"{args.out} exists and is not a directory"))
    if (args.scenario is None) == (args.machines is None):
        raise ScenarioError(Problem("SCENARIO", "give a SCENARIO or --machines M (not both)"))
    if args.machines is not None:
        return _fuzz_machines(args)
    if args.duration is not None:
        raise ScenarioError(Problem("--duration", "only with --machines (a SCENARIO has one)"))
    summary = fuzz_scenario(
        Path(args.scenario),
        runs=args.runs,
        seed=args.seed,
        out_dir=args.out,
        max_shrink_runs=args.max_shrink_runs,
        max_faults=args.max_faults,
        kinds=args.kinds,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(summary.text())
    return 1 if summary.failed else 0


def _fuzz_machines(args: argparse.Namespace) -> int:
    duration = parse_duration(args.duration or "10m")
    if duration is None or duration <= 0:
        raise ScenarioError(
            Problem("--duration", f"expected a positive duration like 10m, got {args.duration!r}")
        )
    summary = fuzz_machines(
        machines=args.machines,
        runs=args.runs,
        seed=args.seed,
        duration_s=duration,
        out_dir=args.out,
        max_shrink_runs=args.max_shrink_runs,
        max_faults=args.max_faults,
        kinds=args.kinds,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(summary.text())
    return 1 if summary.failed else 0


def _judge(args: argparse.Namespace) -> int:
    check_writable(args.json, "--json")
    for option, path, is_dir in (
        ("--trace", args.trace, False),
        ("--cloud-data", args.cloud_data, True),
        ("--files", args.files, False),
    ):
        if path is not None and not (path.is_dir() if is_dir else path.is_file()):
            what = "a directory" if is_dir else "a file"
            raise ScenarioError(Problem(option, f"{path} is not {what}"))
    promise = DEFAULT_PROMISE if args.config is None else load_machine_config(args.config).promise()
    drain = None
    if args.drain_within is not None:
        drain = parse_duration(args.drain_within)
        if drain is None or drain <= 0:
            raise ScenarioError(
                Problem(
                    "--drain-within", f"expected a duration like 10m, got {args.drain_within!r}"
                )
            )
    try:
        verdict = judge_real_run(
            args.trace,
            args.cloud_data,
            durability_window_s=promise.durability_window_s,
            drain_within_s=drain,
            written_files=args.files,
        )
    except CloudError as error:
        raise ScenarioError(Problem("--cloud-data", str(error))) from None
    print(verdict.summary())
    if args.json is not None:
        args.json.write_text(json.dumps(verdict.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"report: {args.json}")
    return 0 if verdict.passed else 1


def _schema(_args: argparse.Namespace) -> int:
    print(json.dumps(shipped_schema(), indent=2))
    return 0


def _validate(args: argparse.Namespace) -> int:
    status = 0
    for file in args.files:
        try:
            scenario = load_scenario(file)
        except ScenarioError as error:
            print(error, file=sys.stderr)
            status = 2
            continue
        print(
            f"{file}: valid: {scenario.name}, {format_duration(scenario.duration_s)}, "
            f"{len(scenario.faults)} fault(s), seed {scenario.seed}"
        )
    return status
