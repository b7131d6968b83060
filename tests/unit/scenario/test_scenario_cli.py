"""``dmsim run``, ``dmsim fuzz`` and ``dmsim scenario``: exit codes, outputs, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.unit.scenario.scenario_kit import ToyWorld

from dmsim.cli import main
from dmsim.scenario import _fuzz as fuzz_module
from dmsim.scenario import _fuzz_machines as fuzz_machines_module
from dmsim.scenario import _runner as runner_module

SMALL = Path(__file__).with_name("data") / "small-ack.scenario.yaml"
DMSIM = Path(sys.executable).with_name("dmsim")


def use_world(monkeypatch: pytest.MonkeyPatch, world: ToyWorld) -> None:
    monkeypatch.setattr(runner_module, "default_world", lambda: world)
    monkeypatch.setattr(fuzz_module, "default_world", lambda: world)
    monkeypatch.setattr(fuzz_machines_module, "default_world", lambda: world)


def test_run_passes_and_writes_report_and_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_world(monkeypatch, ToyWorld())
    report, plot = tmp_path / "r.json", tmp_path / "t.png"
    status = main(["run", str(SMALL), "--json", str(report), "--plot", str(plot), "--quiet"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "verdict=PASS" in out
    assert f"report: {report}" in out
    assert json.loads(report.read_text())["verdict"] == "pass"
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_run_fails_with_exit_1_and_seed_override(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_world(monkeypatch, ToyWorld(bugs=["no_idempotency"]))
    assert main(["run", str(SMALL), "--seed", "8", "--check-determinism"]) == 1
    out = capsys.readouterr().out
    assert "verdict=FAIL" in out
    assert "PASS  deterministic" in out
    assert f"reproduce: dmsim run {SMALL} --seed 8 --check-determinism" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "missing.scenario.yaml"], "cannot read the scenario"),
        (["run", str(SMALL), "--json", f"{SMALL}/r.json"], "--json: cannot write"),
        # a directory that exists but takes no new file: found before the run, not after it
        (["run", str(SMALL), "--json", "/proc/r.json"], "--json: cannot write /proc/r.json"),
        (["run", str(SMALL), "--plot", "/proc/p.png"], "--plot: cannot write /proc/p.png"),
        (["fuzz", str(SMALL), "--runs", "2", "--out", str(SMALL)], "not a directory"),
        (["fuzz", "--runs", "2"], "give a SCENARIO or --machines M (not both)"),
        (["fuzz", str(SMALL), "--machines", "2", "--runs", "1"], "give a SCENARIO or --machines"),
        (["fuzz", str(SMALL), "--runs", "1", "--duration", "10m"], "--duration: only with"),
        (
            ["fuzz", "--machines", "2", "--runs", "1", "--duration", "soon"],
            "--duration: expected a positive duration like 10m, got 'soon'",
        ),
    ],
)
def test_bad_input_exits_2(
    argv: list[str],
    fragment: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_world(monkeypatch, ToyWorld())
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_report_directories_are_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: `make run` on a fresh clone failed because out/ did not exist."""
    use_world(monkeypatch, ToyWorld())
    report, plot = tmp_path / "out" / "r.json", tmp_path / "out" / "deeper" / "t.png"
    main(["run", str(SMALL), "--json", str(report), "--plot", str(plot)])
    capsys.readouterr()
    assert report.is_file()
    assert plot.is_file()


def test_fuzz_reports_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_world(monkeypatch, ToyWorld(bugs=["delete_before_ack"]))
    status = main(["fuzz", str(SMALL), "--runs", "30", "--seed", "2", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 1
    assert "run 1/30" in captured.err
    assert "1 failure" in captured.out
    assert len(list(tmp_path.glob("test_small_ack_*.py"))) == 1


def test_fuzz_without_finding_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_world(monkeypatch, ToyWorld())
    assert main(["fuzz", str(SMALL), "--runs", "3"]) == 0
    assert "3 run(s), 3 passed, no failure" in capsys.readouterr().out


def test_fuzz_takes_envelope_overrides_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_world(monkeypatch, ToyWorld())
    argv = ["fuzz", str(SMALL), "--runs", "4", "--max-faults", "1", "--kinds", "crash,link_down"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "4 run(s), 4 passed, no failure" in captured.out
    assert ", 1 fault(s)" in captured.err
    assert ", 2 fault(s)" not in captured.err
    assert main(["fuzz", str(SMALL), "--runs", "4", "--kinds", "crash,meteor"]) == 2
    assert "kinds: unknown fault kind 'meteor'" in capsys.readouterr().err


def test_fuzz_on_random_machines_reports_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_world(monkeypatch, ToyWorld(bugs=["delete_before_ack"]))
    argv = ["fuzz", "--machines", "3", "--runs", "10", "--duration", "5m", "--out", str(tmp_path)]
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 1, captured.out
    assert "machine 1/3: " in captured.err
    assert "1 failure" in captured.out
    assert "part(s) removed" in captured.out
    assert len(list(tmp_path.glob("test_machine_*.py"))) == 1


def run_dmsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DMSIM), *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def test_fuzz_leaves_nothing_in_the_working_directory(tmp_path: Path) -> None:
    result = run_dmsim("fuzz", str(SMALL), "--runs", "6", "--max-faults", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []  # hypothesis caches nothing under .hypothesis/


def test_fuzz_on_random_machines_end_to_end(tmp_path: Path) -> None:
    result = run_dmsim("fuzz", "--machines", "2", "--runs", "1", "--duration", "1m", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "dmsim fuzz: 2 random machine(s), 2 run(s), 2 passed, no failure" in result.stdout
    assert "machine 2/2: " in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_schema_and_validate_end_to_end(tmp_path: Path) -> None:
    schema = run_dmsim("scenario", "schema")
    assert schema.returncode == 0
    assert json.loads(schema.stdout)["title"] == "dmsim scenario"
    bad = tmp_path / "bad.scenario.yaml"
    bad.write_text("name: bad\nduration: 5 minutes\nmachine: {}\n")
    result = run_dmsim("scenario", "validate", str(SMALL), str(bad))
    assert result.returncode == 2
    assert "valid: small-ack, 5m, 3 fault(s), seed 5" in result.stdout
    assert "duration (line 2): expected a duration like '90s'" in result.stderr
    assert "Traceback" not in result.stderr
    garbage = tmp_path / "garbage.scenario.yaml"
    garbage.write_bytes(b"\x00\xff{{{{")
    result = run_dmsim("run", str(garbage))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv", [["fuzz", str(SMALL), "--runs", "0"], ["run", str(SMALL), "--seed", "-3"], ["scenario"]]
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse rejects bad option values itself
        status = int(stop.code or 0)
    assert status == 2
