"""``dmsim capture ...`` end to end, through the installed ``dmsim`` executable."""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcap.stream_reader import StreamReader
from tests.unit.storage.realfs_faults import deny_listing
from viam.proto.app.datasync import DataType

from dmsim.cli import main
from dmsim.storage._codec import binary_reading, tabular_reading
from dmsim.storage._identity import ReadingId
from dmsim.storage._naming import CollectorKey
from dmsim.storage._reader import CaptureReader
from dmsim.storage._realfs import RealFS
from dmsim.storage._varint import uvarint
from dmsim.storage._writer import CaptureWriter
from dmsim.storage.cli import _guard

DMSIM = str(Path(sys.executable).with_name("dmsim"))
READINGS = "rdk_component_sensor/imu/Readings"


def dmsim(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [DMSIM, "capture", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def populate(root: Path) -> None:
    fs = RealFS()
    sensor = CaptureWriter(
        fs,
        capture_dir=str(root),
        key=CollectorKey.of("rdk:component:sensor", "imu", "Readings"),
        data_type=DataType.DATA_TYPE_TABULAR_SENSOR,
        now=lambda: 12.5,
        clock_id="process p1",
        wall_ns=lambda: 1_781_715_872_000_000_000,
        tags=["bench"],
    )
    for i in range(5):
        sensor.write(
            tabular_reading(
                {"x": i}, time_requested_ns=1_781_715_872_000_000_000 + i, time_received_ns=0
            ),
            reading_id=ReadingId("imu", 0, i),
        )
    sensor.close()
    cam = CaptureWriter(
        fs,
        capture_dir=str(root),
        key=CollectorKey.of("rdk:component:camera", "cam", "ReadImage"),
        data_type=DataType.DATA_TYPE_BINARY_SENSOR,
        now=lambda: 0.0,
        wall_ns=lambda: 1_781_715_872_000_000_000,
        mime_type="image/jpeg",
        file_extension=".jpeg",
    )
    cam.write(binary_reading(b"\xff\xd8" + bytes(100), time_requested_ns=1, time_received_ns=2))
    cam.close()


@pytest.fixture
def capture_dir(tmp_path: Path) -> Path:
    root = tmp_path / "capture"
    populate(root)
    return root


def test_inspect_text_and_json(capture_dir: Path) -> None:
    text = dmsim("inspect", str(capture_dir))
    assert text.returncode == 0
    assert "rdk:component:sensor imu" in text.stdout
    assert "2 capture file(s)" in text.stdout
    assert "begun      12.500000 s on monotonic clock 'process p1'" in text.stdout
    assert text.stdout.count("begun") == 1  # the camera's writer named no clock
    result = dmsim("inspect", str(capture_dir), "--json")
    assert result.returncode == 0
    reports = json.loads(result.stdout)
    by_name = {r["component_name"]: r for r in reports}
    assert by_name["imu"]["readings"] == 5
    assert by_name["imu"]["tags"] == ["bench"]
    assert by_name["imu"]["data_type"] == "tabular"
    assert by_name["imu"]["first_time_requested_ns"] == 1_781_715_872_000_000_000
    assert by_name["cam"]["mime_type"] == "image/jpeg"
    assert by_name["imu"]["creation"] == {"clock": "process p1", "monotonic_ns": 12_500_000_000}
    assert by_name["cam"]["creation"] is None
    single = dmsim("inspect", by_name["cam"]["path"], "--json")
    assert [r["component_name"] for r in json.loads(single.stdout)] == ["cam"]


def test_inspect_exits_1_when_a_file_has_a_problem(capture_dir: Path) -> None:
    """Regression: inspect printed PROBLEM and exited 0."""
    bad = capture_dir / READINGS / "2030-01-01T00_00_00.000000Z.capture"
    bad.write_bytes(b"\x0a\x01")
    result = dmsim("inspect", str(capture_dir))
    assert result.returncode == 1
    assert f"PROBLEM    {bad} at byte 0" in result.stdout
    assert dmsim("inspect", str(capture_dir), "--json").returncode == 1
    [intact] = (capture_dir / READINGS).glob("2026-*.capture")
    assert dmsim("inspect", str(intact)).returncode == 0


def test_verify_exit_status_follows_integrity(capture_dir: Path) -> None:
    ok = dmsim("verify", str(capture_dir))
    assert ok.returncode == 0
    assert "intact" in ok.stdout
    bad = capture_dir / READINGS / "2030-01-01T00_00_00.000000Z.capture"
    bad.write_bytes(b"\x0a\x01")
    result = dmsim("verify", str(capture_dir), "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    [problem] = doc["problems"]
    assert problem["path"] == str(bad)
    assert problem["offset"] == 0
    text = dmsim("verify", str(capture_dir))
    assert f"PROBLEM {bad} at byte 0" in text.stdout


def test_verify_says_plainly_when_there_is_nothing_to_verify(tmp_path: Path) -> None:
    """Regression: an empty directory was reported "intact"."""
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "x.capture").write_bytes(b"junk")
    result = dmsim("verify", str(tmp_path))
    assert result.returncode == 0
    assert "intact" not in result.stdout
    assert f"no capture files found in {tmp_path} (1 in failed/)" in result.stdout


def test_recover_settles_orphans_and_reports(capture_dir: Path) -> None:
    [done] = (capture_dir / READINGS).glob("*.capture")
    orphan = done.with_name("2031-01-01T00_00_00.000000Z.prog")
    orphan.write_bytes(done.read_bytes() + b"\x30\x0a")  # a record cut short
    result = dmsim("recover", str(capture_dir), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["recovered"][0]["readings"] == 5
    assert doc["torn_bytes_dropped"] == 2
    assert not orphan.exists()
    assert dmsim("verify", str(capture_dir)).returncode == 1  # same identities twice now
    again = dmsim("recover", str(capture_dir))
    assert again.returncode == 0
    assert "0 .prog file(s)" in again.stdout


def test_export_writes_a_valid_mcap(capture_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mcap"
    result = dmsim("export", str(capture_dir), "--format", "mcap", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "/imu/Readings" in result.stdout
    records = list(StreamReader(io.BytesIO(out.read_bytes()), validate_crcs=True).records)
    assert records
    doc = json.loads(dmsim("export", str(capture_dir), "-o", str(out), "--json").stdout)
    assert doc["messages"] == 6


def test_export_names_a_skipped_torn_tail_and_exits_1(capture_dir: Path, tmp_path: Path) -> None:
    [done] = (capture_dir / READINGS).glob("*.capture")
    intact_size = done.stat().st_size
    with done.open("ab") as f:
        f.write(b"\x30\x0a\x02")  # a record cut short
    result = dmsim("export", str(capture_dir), "-o", str(tmp_path / "out.mcap"))
    assert result.returncode == 1
    assert f"{done} at byte {intact_size}: torn tail of 3 bytes" in result.stdout


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_a_closed_stdout_ends_quietly_with_141(
    capture_dir: Path, unbuffered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: `dmsim capture inspect DIR | head -1` printed "error: : Broken pipe" and
    exited 2. Buffered, the pipe breaks at the final flush; unbuffered, at the first print."""
    monkeypatch.setenv("PYTHONUNBUFFERED", unbuffered)
    process = subprocess.Popen(
        [DMSIM, "capture", "inspect", str(capture_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()  # before the child writes anything: its first write hits EPIPE
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    assert stderr == ""


def test_an_unopenable_file_is_named_once(capture_dir: Path, tmp_path: Path) -> None:
    """Regression: a dangling symlink printed "PATH: PATH: cannot open"."""
    dangling = capture_dir / READINGS / "2030-01-01T00_00_00.000000Z.capture"
    dangling.symlink_to(tmp_path / "gone")
    expected = f"{dangling}: cannot open: No such file or directory"
    inspect = dmsim("inspect", str(capture_dir))
    verify = dmsim("verify", str(capture_dir))
    export = dmsim("export", str(capture_dir), "-o", str(tmp_path / "out.mcap"))
    for result in (inspect, verify, export):
        assert result.returncode == 1
        assert expected in result.stdout
        assert f"{dangling}: {dangling}" not in result.stdout


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_an_unwritable_output_is_named_as_given(capture_dir: Path) -> None:
    """Regression: `-o /proc/x.mcap` reported "x.mcap.part: No such file or directory"."""
    result = dmsim("export", str(capture_dir), "-o", "/proc/x.mcap")
    assert result.returncode == 2
    assert result.stderr.startswith("dmsim capture: error: cannot write /proc/x.mcap: ")
    assert ".part" not in result.stderr


@pytest.mark.parametrize("suffix", [".capture", ".prog"])
def test_export_never_overwrites_a_capture_file(capture_dir: Path, suffix: str) -> None:
    [done] = (capture_dir / READINGS).glob("*.capture")
    target = done.with_suffix(suffix)
    if suffix == ".prog":
        target.write_bytes(done.read_bytes())
    before = target.read_bytes()
    result = dmsim("export", str(capture_dir), "-o", str(target))
    assert result.returncode == 2
    assert f"{target}: names a capture file" in result.stderr
    assert target.read_bytes() == before


def test_an_os_error_without_a_file_name_prints_just_its_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def failing(_args: argparse.Namespace) -> int:
        raise OSError(errno.EIO, "Input/output error")

    assert _guard(failing)(argparse.Namespace()) == 2
    assert capsys.readouterr().err == "dmsim capture: error: Input/output error\n"


def test_bad_input_through_the_executable_exits_2_without_a_traceback() -> None:
    result = dmsim("verify", "/no/such/dir")
    assert result.returncode == 2
    assert "not a directory" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "/no/such/path"],
        ["verify", "/no/such/dir"],
        ["recover", "/no/such/dir"],
        ["export", "/no/such/dir", "-o", "/tmp/x.mcap"],
        ["export", ".", "-o", "/no/such/dir/x.mcap"],
        ["export", ".", "-o", "/"],
    ],
)
def test_bad_input_exits_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capture", *args]) == 2
    assert "dmsim capture: error:" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["export", ".", "--format", "bag", "-o", "x"], ["verify"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["capture", *args])
    assert info.value.code == 2


def test_capture_alone_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["capture"]) == 2
    assert "inspect" in capsys.readouterr().err


def test_a_file_is_not_a_directory(capture_dir: Path) -> None:
    [done] = (capture_dir / READINGS).glob("*.capture")
    for command in ("verify", "recover"):
        assert main(["capture", command, str(done)]) == 2


def test_garbage_never_produces_a_traceback(tmp_path: Path) -> None:
    root = tmp_path / "junk"
    target = root / "a" / "b" / "c"
    target.mkdir(parents=True)
    for i, data in enumerate(
        [b"", b"\x00" * 50, b"\xff" * 33, bytes(range(256)), b"\x05\x0a\x03abc"]
    ):
        (target / f"2026-01-01T00_00_0{i}.000000Z.capture").write_bytes(data)
        (target / f"2026-01-01T00_00_1{i}.000000Z.prog").write_bytes(data)
    assert dmsim("inspect", str(root)).returncode == 1
    assert dmsim("verify", str(root)).returncode == 1
    assert dmsim("export", str(root), "-o", str(tmp_path / "j.mcap")).returncode == 1
    assert dmsim("recover", str(root)).returncode == 0
    assert [p for p in root.rglob("*.prog") if "failed" not in p.parts] == []
    assert (root / "failed").is_dir()


def test_verify_counts_each_quarantined_file_once(
    capture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (capture_dir / READINGS / "2031-01-01T00_00_00.000000Z.prog").write_bytes(b"\xff" * 20)
    assert main(["capture", "recover", str(capture_dir)]) == 0
    capsys.readouterr()
    assert main(["capture", "verify", str(capture_dir)]) == 0
    assert "1 in failed/: intact" in capsys.readouterr().out


def test_recover_keeps_the_readings_after_a_length_damaged_past_the_end(
    capture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [done] = (capture_dir / READINGS).glob("*.capture")
    with CaptureReader(RealFS(), str(done)) as reader:
        second = [r.offset for r in reader.records()][1]
    data = done.read_bytes()
    assert data[second] < 0x80  # a one-byte length prefix
    damaged = data[:second] + uvarint(8331) + data[second + 1 :]
    prog = done.with_suffix(".prog")
    prog.write_bytes(damaged)
    done.unlink()
    assert main(["capture", "recover", str(capture_dir)]) == 0
    out = capsys.readouterr().out
    assert "DAMAGED: the whole original is kept in failed/: record length 8331" in out
    assert "(byte " + str(second) + ")" in out
    assert "0 torn byte(s) dropped" in out
    [kept] = (capture_dir / "failed").rglob("*.prog")
    assert kept.read_bytes() == damaged


def test_recover_never_deletes_a_prog_its_capture_does_not_hold(
    capture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [done] = (capture_dir / READINGS).glob("*.capture")
    copied = done.with_suffix(".prog")
    copied.write_bytes(done.read_bytes())  # an earlier recovery's source, already copied
    assert main(["capture", "recover", str(capture_dir)]) == 0
    assert f"removed   {copied}: its readable prefix is already {done}" in capsys.readouterr().out
    with CaptureReader(RealFS(), str(done)) as reader:
        first_end = next(r.offset + r.size for r in reader.records())
    other = done.read_bytes()[:first_end]  # one reading: not what the .capture holds
    copied.write_bytes(other)
    assert main(["capture", "recover", str(capture_dir), "--json"]) == 0
    [failed] = json.loads(capsys.readouterr().out)["failed"]
    assert f"{done} exists and is not this file's readable prefix" in failed["reason"]
    assert Path(failed["moved_to"]).read_bytes() == other


def test_a_directory_that_cannot_be_listed_is_reported_by_verify_and_recover(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hidden = capture_dir / "rdk_component_sensor" / "imu"
    (hidden / "Readings" / "2031-01-01T00_00_00.000000Z.prog").write_bytes(b"\xff")
    deny_listing(monkeypatch, hidden)
    assert main(["capture", "verify", str(capture_dir)]) == 1
    out = capsys.readouterr().out
    assert f"PROBLEM {hidden}: cannot list this directory: Permission denied" in out
    assert "intact" not in out
    assert main(["capture", "recover", str(capture_dir)]) == 1
    out = capsys.readouterr().out
    assert f"ERROR     {hidden}: cannot list this directory: Permission denied" in out
    assert main(["capture", "inspect", str(capture_dir)]) == 1  # a problem listed
    assert f"PROBLEM    {hidden}: cannot list this directory" in capsys.readouterr().out
    out_file = capture_dir.parent / "out.mcap"
    assert main(["capture", "export", str(capture_dir), "-o", str(out_file)]) == 1


def test_what_is_named_like_a_capture_file_but_is_not_a_file_is_a_problem(
    capture_dir: Path,
) -> None:
    here = capture_dir / READINGS
    fifo = here / "2031-01-01T00_00_00.000000Z.capture"
    os.mkfifo(fifo)
    directory = here / "2031-01-01T00_00_01.000000Z.prog"
    directory.mkdir()
    component = capture_dir / "rdk_component_sensor" / "odd.capture" / "Readings"
    component.mkdir(parents=True)  # a component whose name ends so: not a problem
    result = dmsim("verify", str(capture_dir))  # blocked forever on the FIFO
    assert result.returncode == 1
    assert f"PROBLEM {fifo}: cannot open: not a regular file (a FIFO)" in result.stdout
    assert f"PROBLEM {directory}: a directory, not a capture file" in result.stdout
    assert "odd.capture" not in result.stdout
    assert "2 problem(s)" in result.stdout
    inspect = dmsim("inspect", str(capture_dir))
    assert inspect.returncode == 1  # problems listed
    assert "not a regular file (a FIFO)" in inspect.stdout
    orphan = fifo.with_suffix(".prog")
    fifo.rename(orphan)
    recover = dmsim("recover", str(capture_dir))
    assert recover.returncode == 1
    assert f"ERROR     {orphan}: cannot open: not a regular file (a FIFO)" in recover.stdout
    assert orphan.exists()
