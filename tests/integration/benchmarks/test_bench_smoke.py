"""Every benchmark runs to the end at a tiny size and writes its figures.

`make bench` is not part of `make test`, so a benchmark's private fakes (a direct transport, a
generated filesystem) can drift from the ports they stand in for without any test noticing:
the sync benchmark once failed every upload with an AttributeError after the transport port
began taking request bytes. These runs catch that; they measure nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"

#: per benchmark: the smallest arguments that still take every code path, and figures its
#: JSON must carry
SMOKE: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "capture": (["--quick"], ("sim_overhead_ratio", "real_max_sustained_hz")),
    "storage": (["--readings", "2000", "--rounds", "1"], ("ratio_vs_raw_per_record",)),
    "cloud": (["--uploaders", "4", "--duration", "2"], ("uploads_per_s", "lost", "duplicated")),
    "sync": (
        ["--files", "200", "--binary-mb", "1", "--repeats", "1", "--backlog", "2000"],
        ("tiny_files", "large_binary", "backlog_small", "backlog"),
    ),
    "proxy": (
        ["--megabytes", "2", "--round-trips", "50", "--transfers", "500", "--uploads", "20"],
        ("added_p99_us", "sim_uploads_per_s"),
    ),
    "scenarios": (
        [str(BENCH.parent / "scenarios/field-failures/orphaned-prog-after-crash.scenario.yaml")],
        (),
    ),
    "simulate": (
        ["--short", "2m", "--long", "4m", "--speed", "20s"],
        ("growth_mb_per_sim_hour", "robot_readings_per_wall_s"),
    ),
}


def test_every_benchmark_has_a_smoke_run() -> None:
    found = {path.stem.removeprefix("bench_") for path in BENCH.glob("bench_*.py")}
    assert found == set(SMOKE)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMOKE))
def test_benchmark_runs_and_reports(name: str, tmp_path: Path) -> None:
    arguments, figures = SMOKE[name]
    out = tmp_path / f"{name}.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / f"bench_{name}.py"), *arguments, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "Traceback" not in done.stderr
    report: Any = json.loads(out.read_text(encoding="utf-8"))
    if name == "scenarios":
        assert [row["verdict"] for row in report] == ["pass"]
    else:
        assert set(figures) <= set(report)
