"""`dmsim judge`: a real machine (`dmsim machine --trace`, killed and restarted) against a real
`dmsim cloud serve` on loopback, judged reading by reading with the simulation's oracle."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.integration.cloud.serve_process import serve_process
from tests.integration.service.machines import machine_config

DMSIM = [sys.executable, "-m", "dmsim.cli"]


def wait_for_line(path: Path, text: str, timeout: float = 60.0) -> None:
    """Until a line of ``path`` contains ``text`` (a loaded CI machine starts slowly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} in {path} after {timeout}s")


def judge(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DMSIM, "judge", *map(str, args)], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_a_killed_and_restarted_machine_is_judged_reading_by_reading(tmp_path: Path) -> None:
    capture, data, trace = tmp_path / "capture", tmp_path / "cloud", tmp_path / "trace.jsonl"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture)))
    with serve_process(data) as cloud:
        machine = [*DMSIM, "machine", str(config), "--cloud", f"127.0.0.1:{cloud.grpc_port}",
                   "--trace", str(trace)]  # fmt: skip
        killed = subprocess.Popen(machine, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_line(trace, '"outcome":"ok"')  # it runs and has synced something
        time.sleep(1)
        killed.send_signal(signal.SIGKILL)  # a power cut mid-run
        killed.wait(timeout=30)
        last = subprocess.run(
            [*machine, "--duration", "4s"], capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert last.returncode == 0, last.stderr
    report = tmp_path / "verdict.json"
    result = judge("--trace", trace, "--cloud-data", data, "--config", config, "--json", report)
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(report.read_text())
    assert verdict["passed"]
    assert (verdict["boots"], verdict["crashes"]) == (2, 1)
    assert verdict["counts"]["delivered"] > 50
    assert set(verdict["counts"]) <= {"delivered", "pending", "lost_in_window"}
    assert "verdict: PASS" in result.stdout

    # The cloud now holds a reading other than the one captured: the judge must say so.
    with sqlite3.connect(data / "cloud.sqlite3") as db:
        first, second = db.execute(
            "SELECT seq, raw FROM items WHERE kind = 'tabular' ORDER BY seq LIMIT 2"
        ).fetchall()
        db.execute("UPDATE items SET raw = ? WHERE seq = ?", (second[1], first[0]))
    tampered = judge("--trace", trace, "--cloud-data", data, "--config", config)
    assert tampered.returncode == 1, tampered.stdout
    assert "VIOLATION corrupted" in tampered.stdout
    assert "verdict: FAIL" in tampered.stdout


def test_a_wall_clock_set_during_the_run_is_no_anomaly(tmp_path: Path) -> None:
    """A Pi without a real-time clock runs a while at 1970 before NTP sets its clock: the
    trace's wall times jump back and forth. The judge read the trace sorted by them, found
    files completed before their readings were captured, and failed a good run."""
    capture, data, trace = tmp_path / "capture", tmp_path / "cloud", tmp_path / "trace.jsonl"
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine_config(capture)))
    with serve_process(data) as cloud:
        done = subprocess.run(
            [*DMSIM, "machine", str(config), "--cloud", f"127.0.0.1:{cloud.grpc_port}",
             "--trace", str(trace), "--duration", "3s"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    middle = lines[len(lines) // 3 : len(lines) // 2]
    assert any(line["kind"] == "reading.captured" for line in middle)
    for line in middle:  # written while the clock read 1970
        line["time"] = "1970-01-02T00:00:00.000000Z"
    trace.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = tmp_path / "verdict.json"
    result = judge("--trace", trace, "--cloud-data", data, "--config", config, "--json", report)
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(report.read_text())
    assert verdict["anomalies"] == []
    assert verdict["counts"]["delivered"] > 20
    assert verdict["span_s"] < 60  # not the 56 years between 1970 and now
    assert [s["by_s"] < -1e9 for s in verdict["clock_sets"]] == [True, False]  # there and back
    assert verdict["stale_warning"]["ok"], verdict["stale_warning"]


def test_bad_input_is_named(tmp_path: Path) -> None:
    (tmp_path / "trace.jsonl").write_text("not json\n")
    (tmp_path / "cloud").mkdir()
    missing = judge("--trace", tmp_path / "nope.jsonl", "--cloud-data", tmp_path / "cloud")
    assert missing.returncode == 2
    assert "--trace:" in missing.stderr
    assert "is not a file" in missing.stderr
    garbled = judge("--trace", tmp_path / "trace.jsonl", "--cloud-data", tmp_path / "cloud")
    assert garbled.returncode == 2
    assert "(line 1): invalid JSON" in garbled.stderr
    assert "Traceback" not in garbled.stderr + missing.stderr


def written(path: Path) -> str:
    """The line a program that completed ``path`` appends to the --files log."""
    data = path.read_bytes()
    return json.dumps({
        "time": datetime.now(UTC).isoformat(), "kind": "file.written", "path": str(path),
        "size": len(data), "digest": hashlib.sha256(data).hexdigest(),
    })  # fmt: skip


def test_files_other_programs_wrote_are_followed_to_the_cloud(tmp_path: Path) -> None:
    """A bench's own program writes reports into additional_sync_paths and logs each file it
    completed: `--files` holds each to the cloud's FileUpload store, once and whole."""
    capture, extra, data = tmp_path / "capture", tmp_path / "reports", tmp_path / "cloud"
    trace, files = tmp_path / "trace.jsonl", tmp_path / "files.jsonl"
    extra.mkdir()
    machine = machine_config(capture)
    machine["services"][0]["attributes"].update(  # type: ignore[index]
        additional_sync_paths=[str(extra)], file_last_modified_millis=300
    )
    config = tmp_path / "machine.json"
    config.write_text(json.dumps(machine))
    lines = []
    for n in range(3):
        report = extra / f"report-{n}.csv"
        report.write_text(f"run,{n}\n" * 100)
        lines.append(written(report))
    files.write_text("\n".join(lines) + "\n")
    with serve_process(data) as cloud:
        done = subprocess.run(
            [*DMSIM, "machine", str(config), "--cloud", f"127.0.0.1:{cloud.grpc_port}",
             "--trace", str(trace), "--duration", "4s"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert list(extra.iterdir()) == []  # uploaded and deleted
    report_path = tmp_path / "verdict.json"
    args = ("--trace", trace, "--cloud-data", data, "--config", config)
    result = judge(*args, "--files", files, "--json", report_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sync paths: 3 written" in result.stdout, result.stdout
    assert json.loads(report_path.read_text())["arbitrary_files"]["stored"] == 3

    # What the program completed is not what the cloud holds: sent half written.
    (extra / "report-0.csv").write_text("run,0\n" * 200)  # the whole file, as it was logged
    lines[0] = written(extra / "report-0.csv")
    files.write_text("\n".join(lines) + "\n")
    half = judge(*args, "--files", files)
    assert half.returncode == 1, half.stdout
    assert "1 corrupted  FAIL" in half.stdout
    assert "verdict: FAIL" in half.stdout


def test_a_files_log_that_is_not_one_is_named_by_line(tmp_path: Path) -> None:
    (tmp_path / "cloud").mkdir()
    trace = tmp_path / "trace.jsonl"
    trace.write_text(json.dumps({"time": "2026-11-23T10:00:00Z", "kind": "machine.start"}) + "\n")
    files = tmp_path / "files.jsonl"
    files.write_text(
        json.dumps({"time": "2026-11-23T10:00:01Z", "kind": "file.written", "path": "a.csv",
                    "size": 3, "digest": "00" * 32}) + "\n\n"
        + json.dumps({"time": "2026-11-23T10:00:02Z", "kind": "sync.attempt"}) + "\n"
        + json.dumps({"time": "2026-11-23T10:00:03Z", "kind": "file.written", "path": "/r/b",
                      "size": 0, "digest": "abc"}) + "\n"
    )  # fmt: skip
    result = judge("--trace", trace, "--cloud-data", tmp_path / "cloud", "--files", files)
    assert result.returncode == 2, result.stdout
    for said in (
        "(line 1): 'path' must be the absolute path the machine syncs, got 'a.csv'",
        "(line 3): expected kind 'file.written', got 'sync.attempt'",
        "(line 4): 'size' must be a positive integer (bytes), got 0",
        "(line 4): 'digest' must be the SHA-256 of the file's bytes in hex, got 'abc'",
    ):
        assert said in result.stderr, result.stderr
    missing = judge("--trace", trace, "--cloud-data", tmp_path / "cloud", "--files", "nope")
    assert missing.returncode == 2
    assert "--files: nope is not a file" in missing.stderr
