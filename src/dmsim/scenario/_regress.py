"""Writing a fuzzer finding down: the minimal scenario YAML and a pytest regression test.

The test runs the scenario file next to it with the finding's seed and asserts a passing
verdict, so it fails until the bug is fixed and guards against it coming back afterwards.
Output is deterministic (no dates, no host names), so re-running the fuzzer with the same
seed rewrites identical files.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ._dump import dump_scenario
from ._model import Scenario

__all__ = ["RegressionFiles", "regression_test_source", "write_regression"]

_WIDTH = 92

_TEST_TEMPLATE = '''"""Regression test written by `dmsim fuzz`.

{about}

It fails until the bug is fixed; keep it afterwards so the bug stays fixed.
"""

from pathlib import Path

from dmsim.scenario import run_scenario

SCENARIO = Path(__file__).with_name({scenario_file})


def test_{ident}() -> None:
    report = run_scenario(SCENARIO, seed={seed}, progress=False)
    assert report.verdict_text == "pass", report.summary()
'''


@dataclass(frozen=True, slots=True)
class RegressionFiles:
    scenario: Path
    test: Path


def _identifier(name: str, seed: int) -> str:
    return re.sub(r"\W", "_", f"{name}_{seed}").lower()


def _wrap(text: str) -> str:
    return "\n".join(textwrap.fill(line, width=_WIDTH) for line in text.splitlines())


def regression_test_source(*, scenario_file: str, ident: str, seed: int, about: str) -> str:
    return _TEST_TEMPLATE.format(
        scenario_file=json.dumps(scenario_file), ident=ident, seed=seed, about=_wrap(about)
    )


def write_regression(scenario: Scenario, *, out_dir: Path, about: str) -> RegressionFiles:
    """Write ``<name>_<seed>.scenario.yaml`` and ``test_<name>_<seed>.py`` into ``out_dir``."""
    ident = _identifier(scenario.name, scenario.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    scenario_path = out_dir / f"{ident}.scenario.yaml"
    test_path = out_dir / f"test_{ident}.py"
    scenario_path.write_text(dump_scenario(scenario, header=_wrap(about)), encoding="utf-8")
    test_path.write_text(
        regression_test_source(
            scenario_file=scenario_path.name, ident=ident, seed=scenario.seed, about=about
        ),
        encoding="utf-8",
    )
    return RegressionFiles(scenario_path, test_path)
