"""Scenarios: files describing a machine, its world, faults and expectations; the runner, the
per-reading delivery oracle, reports and plots, and the fuzzer that shrinks failing schedules.

Run one::

    report = run_scenario("scenarios/tomato-robot.scenario.yaml", seed=7)
    print(report.summary())
    assert report.passed, report.reproduce

The world that simulates the machine is ``run_world`` in ``dmsim.scenario._world``; everything
here reads only its :class:`WorldResult`, so the oracle can be driven by hand-built traces.
"""

from ._dump import dump_scenario, scenario_to_document
from ._expect import ExpectationResult, LatencyStats
from ._fuzz import FuzzFinding, FuzzSummary, fuzz_expectations, fuzz_scenario
from ._fuzz_machines import MachineFinding, MachinesFuzzSummary, fuzz_machines, machine_scenario
from ._ledger import (
    FaultWindow,
    FileTally,
    Ledger,
    ReadingId,
    ReadingRecord,
    Store,
    UploadTally,
    build_ledger,
    format_id,
)
from ._loader import load_scenario, loads_scenario, parse_scenario
from ._machine import apply_reconfigure, matching_methods, resource_names
from ._model import (
    CLASSES,
    COUNTER_KEYS,
    DEFAULT_ALLOWED,
    SIM_ENV,
    VIOLATION_CLASSES,
    CloudSpec,
    CountBound,
    DiskSpec,
    Expectations,
    HostSpec,
    NetworkSpec,
    Scenario,
)
from ._oracle import Classified, OracleOptions, classify, classify_all
from ._plot import plot_timeline, write_timeline_png
from ._regress import RegressionFiles, write_regression
from ._report import DeterminismCheck, Report, write_report_json
from ._result import Sample, WorldResult, WorldRunner
from ._runner import ProgressLine, default_world, reproduce_command, run_scenario
from ._schema import build_schema, shipped_schema
from ._shrink import ShrinkResult, shrink_schedule
from ._verdict import Verdict, Violation, counter_values, judge

__all__ = [
    "CLASSES",
    "COUNTER_KEYS",
    "DEFAULT_ALLOWED",
    "SIM_ENV",
    "VIOLATION_CLASSES",
    "Classified",
    "CloudSpec",
    "CountBound",
    "DeterminismCheck",
    "DiskSpec",
    "ExpectationResult",
    "Expectations",
    "FaultWindow",
    "FileTally",
    "FuzzFinding",
    "FuzzSummary",
    "HostSpec",
    "LatencyStats",
    "Ledger",
    "MachineFinding",
    "MachinesFuzzSummary",
    "NetworkSpec",
    "OracleOptions",
    "ProgressLine",
    "ReadingId",
    "ReadingRecord",
    "RegressionFiles",
    "Report",
    "Sample",
    "Scenario",
    "ShrinkResult",
    "Store",
    "UploadTally",
    "Verdict",
    "Violation",
    "WorldResult",
    "WorldRunner",
    "apply_reconfigure",
    "build_ledger",
    "build_schema",
    "classify",
    "classify_all",
    "counter_values",
    "default_world",
    "dump_scenario",
    "format_id",
    "fuzz_expectations",
    "fuzz_machines",
    "fuzz_scenario",
    "judge",
    "load_scenario",
    "loads_scenario",
    "machine_scenario",
    "matching_methods",
    "parse_scenario",
    "plot_timeline",
    "reproduce_command",
    "resource_names",
    "run_scenario",
    "scenario_to_document",
    "shipped_schema",
    "shrink_schedule",
    "write_regression",
    "write_report_json",
    "write_timeline_png",
]
