"""Field replay: a device's capture directory becomes a scenario whose run follows every one of
its readings (``dmsim replay``, ``disk.preload``)."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.integration.replay.field import (
    PRELOADED_READINGS,
    PROBE_COMPLETED,
    PROBE_DIR,
    PROBE_IN_PROG,
    T0,
    TMP36_READINGS,
    TORN_BYTES,
    make_field_dir,
    write_binary,
)

from dmsim.devices import encode_pcd
from dmsim.errors import DmsimError, ScenarioError
from dmsim.faults import FaultSchedule, FaultStep
from dmsim.replay import ReplayOptions, build_replay, describe, read_snapshot
from dmsim.scenario import (
    dump_scenario,
    fuzz_expectations,
    load_scenario,
    loads_scenario,
    run_scenario,
)
from dmsim.storage._codec import tabular_reading
from dmsim.storage._varint import uvarint

DMSIM = str(Path(sys.executable).with_name("dmsim"))


def dmsim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [DMSIM, *map(str, args)], capture_output=True, text=True, timeout=240, check=False
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def replay(field: Path, out: Path, **options: object) -> Path:
    settings = {"name": "case", "duration_s": 600.0, **options}
    return build_replay(read_snapshot(field), ReplayOptions(**settings), out).scenario_path  # type: ignore[arg-type]


def test_the_snapshot_names_streams_rates_damage_and_quarantine(tmp_path: Path) -> None:
    snapshot = read_snapshot(make_field_dir(tmp_path / "field", boot_counter=41))
    probe, tmp36 = snapshot.streams
    assert (probe.component_name, probe.files, probe.open_files) == ("probe", 4, 1)
    assert probe.readings == PROBE_COMPLETED + PROBE_IN_PROG
    assert probe.torn_tail_bytes == TORN_BYTES
    assert probe.rate_hz == pytest.approx(2.0)
    assert (tmp36.component_name, tmp36.readings, tmp36.rate_hz) == ("tmp36", 6, 1.0)
    assert [q.reason for q in snapshot.quarantined] == ["no metadata at byte 0"]
    assert snapshot.boot_counter == 41
    newest = T0 + (PROBE_COMPLETED + PROBE_IN_PROG - 1) * 500_000_000
    assert snapshot.taken_at_ns == -(-newest // 10**9) * 10**9


def test_readings_that_claim_one_identity_twice_are_named_as_damage(tmp_path: Path) -> None:
    """A copied file, or a bit flipped in an identity, gives two readings one identity: the
    cloud then holds either under it, and the run calls one "corrupted". The snapshot says so
    before the run does (the replay fuzz found the flipped bit)."""
    field = make_field_dir(tmp_path / "field")
    first = sorted((field / PROBE_DIR).glob("*.capture"))[0]
    shutil.copyfile(first, first.with_name("copy.capture"))
    lines = describe(read_snapshot(field))
    (damage,) = [line for line in lines if line.startswith(f"  damaged: {PROBE_DIR}/copy")]
    assert f"appears twice (also in {first}); 9 more readings of this file" in damage


def test_a_field_file_the_cloud_refuses_has_its_readings_quarantined_not_lost(
    tmp_path: Path,
) -> None:
    """Regression (found by the replay fuzz): a field file with a reading dated 2572 is refused
    (INVALID_ARGUMENT) and moved to failed/, but its readings were judged lost, "still on the
    machine": the world followed the files it completed, not those preloaded onto its disk.
    And the snapshot took its moment from that reading, so the whole replay ran in 2572."""
    field = make_field_dir(tmp_path / "field")
    folder = field / "rdk_component_sensor" / "tmp36" / "Readings"
    (tmp36,) = folder.glob("*.capture")
    late = tabular_reading({"celsius": 99}, time_requested_ns=19 * 10**18, time_received_ns=0)
    with tmp36.open("ab") as out:
        out.write(uvarint(late.ByteSize()) + late.SerializeToString())
    report = run_scenario(replay(field, tmp_path / "case", capture=False), progress=False)
    counts = report.verdict.counts
    assert counts.get("quarantined") == TMP36_READINGS + 1, report.summary()
    assert counts.get("lost") == 0
    assert counts.get("delivered") == PROBE_COMPLETED + PROBE_IN_PROG
    assert "outside the range this cloud stores" in report.summary()


def test_a_directory_named_like_a_capture_file_is_named_as_damage_not_refused(
    tmp_path: Path,
) -> None:
    """A directory named `*.capture` (an operator's mkdir, a restore gone wrong) is listed as
    damage; the replay runs, and every reading is delivered. It used to refuse the replay."""
    field = make_field_dir(tmp_path / "field")
    (field / "rdk_component_sensor" / "tmp36" / "Readings" / "junk.capture").mkdir()
    (field / "rdk_component_sensor" / "odd.capture").mkdir()
    (field / "rdk_component_sensor" / "odd.capture" / "note.txt").write_text("kept")
    snapshot = read_snapshot(field)
    damage = [line for line in describe(snapshot) if "a directory, not a capture file" in line]
    assert damage == [
        "  damaged: rdk_component_sensor/odd.capture: a directory, not a capture file",
        "  damaged: rdk_component_sensor/tmp36/Readings/junk.capture: a directory, not a capture "
        "file",
    ]
    report = run_scenario(replay(field, tmp_path / "case", capture=False), progress=False)
    assert report.passed, report.summary()
    assert report.verdict.counts.get("delivered") == PRELOADED_READINGS


def test_a_policy_deleting_a_field_file_without_identities_deletes_its_readings(
    tmp_path: Path,
) -> None:
    """Regression (found by the replay fuzz, seed 4380): a disk policy deleted tmp36's field
    file, which another writer left without reading identities; the deletion named no reading,
    so its six readings were judged lost, "still on the machine"."""
    # capture on: as in rdk, no disk policy runs without capture
    library = load_scenario(replay(make_field_dir(tmp_path / "field"), tmp_path / "case"))
    always_full = {"data_manager": {
        "capture_dir_deletion_threshold": 1e-9, "disk_usage_deletion_threshold": 1e-9,
        "delete_every_nth_when_disk_full": 1}}  # fmt: skip
    scenario = dataclasses.replace(
        library.with_faults(FaultSchedule((
            FaultStep(at=0.0, kind="rpc_reject", duration=60.0, fault_id="f1",
                      params={"code": "UNAVAILABLE"}),
            FaultStep(at=1.0, kind="reconfigure", params=always_full, fault_id="f2"),
        ))),
        expectations=fuzz_expectations(library),
    )  # fmt: skip
    report = run_scenario(scenario, progress=False)
    assert report.passed, report.summary()
    counts = report.verdict.counts
    assert counts.get("lost") == 0
    assert counts.get("deleted_by_policy", 0) >= TMP36_READINGS  # every file but the newest


def test_a_binary_stream_with_one_reading_per_file_shows_its_rate(tmp_path: Path) -> None:
    payloads = [b"\xff\xd8" + bytes(i) for i in range(8)]
    write_binary(
        tmp_path, "rdk:component:camera/cam", "ReadImage", payloads, hz=4, mime="image/jpeg"
    )
    (stream,) = read_snapshot(tmp_path).streams
    assert (stream.files, stream.readings, stream.data_type) == (8, 8, "binary")
    assert stream.rate_hz == pytest.approx(4.0)


def test_an_inferred_machine_captures_payloads_of_the_field_s_size(tmp_path: Path) -> None:
    field = tmp_path / "field"
    jpeg = io.BytesIO()
    Image.new("RGB", (320, 200), "green").save(jpeg, format="JPEG")
    write_binary(field, "rdk:component:camera/cam", "ReadImage", [jpeg.getvalue()] * 3, hz=2,
                 mime="image/jpeg")  # fmt: skip
    xyz = np.zeros((123, 3), dtype=np.float32)
    cloud = encode_pcd(xyz, np.zeros(123, dtype=np.uint32))
    write_binary(field, "rdk:component:camera/depth", "NextPointCloud", [cloud] * 2, hz=1,
                 mime="pointcloud/pcd")  # fmt: skip
    write_binary(field, "rdk:component:camera/broken", "ReadImage", [b"not an image"], hz=1,
                 mime="image/jpeg")  # fmt: skip
    snapshot = read_snapshot(field)
    options = ReplayOptions(name="case", duration_s=60.0)
    plan = build_replay(snapshot, options, tmp_path / "case")
    machine = json.loads((tmp_path / "case" / "machine.json").read_text())
    attributes = {c["name"]: c.get("attributes") for c in machine["components"]}
    assert attributes["cam"] == {"width_px": 320, "height_px": 200}
    assert attributes["broken"] is None  # the default size, and a note saying why
    assert any(note.startswith("broken/ReadImage: not an image") for note in plan.payload_notes)
    scenario = load_scenario(plan.scenario_path)
    assert scenario.payload["point_count"] == 123
    assert run_scenario(plan.scenario_path, progress=False).passed


def test_streams_dmsim_cannot_simulate_are_synced_not_captured(tmp_path: Path) -> None:
    """A module's resource (an API dmsim does not simulate) and a second resource named like
    another (or a header a flipped bit renamed) made the inferred machine config invalid, and
    the replay was refused with a problem in a machine.json the engineer never wrote."""
    field = make_field_dir(tmp_path / "field")
    write_binary(field, "acme:component:gripper/claw", "Grab", [b"\x01", b"\x02"], hz=1,
                 mime="application/octet-stream")  # fmt: skip
    write_binary(field, "rdk:component:camera/probe", "ReadImage", [b"\xff\xd8"], hz=1,
                 mime="image/jpeg")  # fmt: skip
    plan = build_replay(
        read_snapshot(field), ReplayOptions(name="case", duration_s=120.0), tmp_path / "case"
    )
    machine = json.loads((tmp_path / "case" / "machine.json").read_text())
    assert [(c["type"], c["name"]) for c in machine["components"]] == [
        ("sensor", "probe"),
        ("sensor", "tmp36"),
    ]
    notes = "\n".join(plan.payload_notes)
    assert "claw/Grab: not captured in the replay (acme:component:gripper supports no" in notes
    assert "probe/ReadImage: not captured in the replay (duplicate resource name 'probe'" in notes
    report = run_scenario(plan.scenario_path, progress=False)
    assert report.passed, report.summary()
    assert report.verdict.counts.get("delivered") == report.verdict.captured


def test_every_preloaded_reading_reaches_the_cloud_once(tmp_path: Path) -> None:
    """Including the .prog's readable prefix (recovered at boot) and the readings another
    writer left without identities; failed/ stays where it is."""
    scenario = replay(make_field_dir(tmp_path / "field"), tmp_path / "case", capture=False)
    report = run_scenario(scenario, progress=False)
    verdict = report.verdict
    assert report.passed, report.summary()
    assert verdict.captured == PRELOADED_READINGS
    assert verdict.counts.get("delivered") == PRELOADED_READINGS
    assert (verdict.files.preloaded, verdict.files.recovered) == (5, 1)
    assert verdict.files.torn_bytes == TORN_BYTES
    assert verdict.uploads.ok == 5  # four probe files and tmp36's; never the quarantined one


def test_the_copy_in_the_case_directory_is_byte_for_byte(tmp_path: Path) -> None:
    field = make_field_dir(tmp_path / "field", boot_counter=3)
    replay(field, tmp_path / "case")
    copied = sorted(
        p.relative_to(tmp_path / "case" / "capture")
        for p in (tmp_path / "case" / "capture").rglob("*")
        if p.is_file()
    )
    original = sorted(p.relative_to(field) for p in field.rglob("*") if p.is_file())
    assert copied == original
    for relative in original:
        assert (tmp_path / "case" / "capture" / relative).read_bytes() == (
            field / relative
        ).read_bytes()


def test_new_capture_continues_after_the_field_boots(tmp_path: Path) -> None:
    """The field files use boot 0, as a fresh simulated process would: the replayed process
    boots after them, so no identity is reused (the oracle would call the trace anomalous)."""
    scenario = replay(make_field_dir(tmp_path / "field"), tmp_path / "case")
    report = run_scenario(scenario, progress=False)
    assert report.passed, report.summary()
    assert report.verdict.captured > PRELOADED_READINGS + 1000  # 10 min at 2 Hz + 1 Hz
    assert report.verdict.counts.get("delivered") == report.verdict.captured


def test_a_byte_identical_copy_of_a_file_is_one_set_of_readings(tmp_path: Path) -> None:
    """A copy of the tmp36 file (no identities): the same content is the same readings, and
    the copy's upload carries the same key, so the cloud keeps them once."""
    field = make_field_dir(tmp_path / "field")
    folder = field / "rdk_component_sensor" / "tmp36" / "Readings"
    (original,) = folder.glob("*.capture")
    shutil.copyfile(original, folder / "2026-06-17T17_04_33.000000Z.capture")
    report = run_scenario(replay(field, tmp_path / "case", capture=False), progress=False)
    assert report.passed, report.summary()
    assert report.verdict.captured == PRELOADED_READINGS
    assert report.verdict.counts.get("delivered") == PRELOADED_READINGS
    assert report.verdict.uploads.ok == 6


def test_identity_less_readings_uploaded_in_two_different_files_are_duplicates(
    tmp_path: Path,
) -> None:
    """The tmp36 readings again in a longer file (one more reading): another key, so the cloud
    stores them twice, and the oracle must say so rather than count them once."""
    field = make_field_dir(tmp_path / "field")
    folder = field / "rdk_component_sensor" / "tmp36" / "Readings"
    (original,) = folder.glob("*.capture")
    extra = tabular_reading({"celsius": 99}, time_requested_ns=T0 + 10**10, time_received_ns=T0)
    longer = original.read_bytes() + uvarint(extra.ByteSize()) + extra.SerializeToString()
    (folder / "2026-06-17T17_04_33.000000Z.capture").write_bytes(longer)
    report = run_scenario(replay(field, tmp_path / "case", capture=False), progress=False)
    assert report.verdict.counts.get("duplicated") == TMP36_READINGS
    assert report.verdict.counts.get("delivered") == PRELOADED_READINGS - TMP36_READINGS + 1
    assert not report.passed


def test_a_link_that_never_comes_back_reproduces_a_stuck_backlog(tmp_path: Path) -> None:
    trace = tmp_path / "modem.csv"
    trace.write_text("time,state\n0,down\n")
    scenario = replay(
        make_field_dir(tmp_path / "field"), tmp_path / "case", capture=False, connectivity=trace
    )
    report = run_scenario(scenario, progress=False)
    assert not report.passed
    assert report.verdict.counts.get("delivered", 0) == 0
    assert report.verdict.counts.get("lost") == PRELOADED_READINGS  # liveness: never drained


def test_a_preload_survives_a_dump_and_reload(tmp_path: Path) -> None:
    scenario = load_scenario(replay(make_field_dir(tmp_path / "field"), tmp_path / "case"))
    again = loads_scenario(dump_scenario(scenario), source="dumped")
    assert again.disk.preload == scenario.disk.preload == (tmp_path / "case" / "capture").resolve()


def test_a_preload_that_is_missing_or_too_big_is_refused_with_its_key(tmp_path: Path) -> None:
    base = "name: x\nduration: 1m\nmachine: {path: m.json}\n"
    (tmp_path / "m.json").write_text(
        json.dumps({"services": [{"name": "dm", "type": "data_manager", "attributes": {}}]})
    )
    with pytest.raises(ScenarioError, match=r"disk\.preload.*nowhere does not exist"):
        loads_scenario(base + "disk: {preload: nowhere}\n", base_dir=tmp_path)
    make_field_dir(tmp_path / "field")
    with pytest.raises(
        ScenarioError, match=r"disk\.preload.*needs 28KiB on the disk, but only 8KiB is free"
    ):
        loads_scenario(base + "disk: {preload: field, capacity: 8KiB}\n", base_dir=tmp_path)


def test_the_cli_prints_the_snapshot_writes_the_case_and_runs_it(tmp_path: Path) -> None:
    field = make_field_dir(tmp_path / "field", boot_counter=41)
    out = tmp_path / "case"
    built = dmsim("replay", field, "--out", out, "--no-capture", "--duration", "5m")
    assert built.returncode == 0, built.stderr
    assert "probe/Readings" in built.stdout
    assert "torn tail of 7 bytes" in built.stdout
    assert "in failed/: failed/rdk_component_sensor/probe/Readings/old.capture" in built.stdout
    assert f"run it: dmsim run {out / 'replay-field.scenario.yaml'}" in built.stdout
    ran = dmsim("run", out / "replay-field.scenario.yaml", "--quiet")
    assert ran.returncode == 0, ran.stdout
    assert f"delivered {PRELOADED_READINGS}" in ran.stdout


def test_the_cli_run_exits_1_when_the_backlog_does_not_drain(tmp_path: Path) -> None:
    trace = tmp_path / "modem.csv"
    trace.write_text("time,state\n0,down\n")
    field = make_field_dir(tmp_path / "field")
    report = tmp_path / "report.json"
    result = dmsim(
        "replay",
        field,
        "-o",
        tmp_path / "case",
        "--connectivity",
        trace,
        "--duration",
        "10m",
        "--no-capture",
        "--run",
        "--json",
        report,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL  drain_within" in result.stdout
    assert json.loads(report.read_text())["readings"]["lost"] == PRELOADED_READINGS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "-o", "case"], "CAPTURE_DIR: nowhere does not exist"),
        (["field", "-o", "field"], "--out: field exists and is not an empty directory"),
        (["field", "-o", "field/case"], "--out: field/case is inside the capture directory"),
        (
            ["field", "-o", "case", "--config", "nowhere.json"],
            "--config: nowhere.json is not a file",
        ),
        (
            ["field", "-o", "case", "--drain-within", "2h"],
            "--drain-within: 2h is longer than the run",
        ),
        (["field", "-o", "case", "--json", "r.json"], "--json/--plot: only with --run"),
        (["field", "-o", "case", "--disk-free", "1TiB"], "--disk-free: is larger than the disk"),
        (["field", "-o", "case", "--disk-capacity", "0"], "--disk-capacity: expected a size"),
        (["field", "-o", "case", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(
    tmp_path: Path, args: list[str], message: str
) -> None:
    make_field_dir(tmp_path / "field")
    result = subprocess.run(
        [DMSIM, "replay", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "case").exists()


def test_the_fuzzer_finds_room_for_faults_in_a_replay_case(tmp_path: Path) -> None:
    """The drain bound leaves the first half of the run to generated faults (a bound of the
    whole run left them none: every fuzz run injected nothing)."""
    scenario = replay(make_field_dir(tmp_path / "field"), tmp_path / "case", capture=False)
    result = dmsim("fuzz", scenario, "--runs", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    runs = [line for line in result.stderr.splitlines() if line.startswith("run ")]
    assert len(runs) == 3
    assert all("0 fault(s)" not in line for line in runs), runs


def test_a_case_runs_the_same_wherever_it_lies(tmp_path: Path) -> None:
    """A case handed to a colleague (another directory, another machine) gives the same trace."""
    scenario = replay(make_field_dir(tmp_path / "field"), tmp_path / "case", capture=False)
    shutil.copytree(tmp_path / "case", tmp_path / "elsewhere" / "case")
    moved = tmp_path / "elsewhere" / "case" / scenario.name
    here = run_scenario(scenario, progress=False)
    there = run_scenario(moved, progress=False)
    assert here.trace_digest == there.trace_digest


DAMAGE = st.tuples(
    st.sampled_from(["flip", "truncate", "append", "empty"]),
    st.integers(0, 10**6),  # which file (modulo the count)
    st.integers(0, 10**6),  # where in it (modulo its size)
    st.binary(min_size=1, max_size=24),  # what a flip xors in, or what is appended
)


# Each example is a replay and a run: 12 in `make test`, 250 in `make fuzz` (its profile).
@settings(
    max_examples=settings.default.max_examples // 8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(DAMAGE, min_size=1, max_size=3))
def test_a_damaged_field_directory_replays_with_every_reading_explained(
    damages: list[tuple[str, int, int, bytes]],
) -> None:
    """Bits flipped, files cut short, garbage appended, files emptied (after the fuzz of
    1,500 such directories): a replay is built or refused with a named problem, and its run
    loses no reading it followed; a reading stored with other content is one whose identity
    the snapshot already named as claimed twice."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        field = make_field_dir(root / "field")
        for kind, which, where, data in damages:
            files = sorted(p for p in field.rglob("*") if p.is_file())
            target = files[which % len(files)]
            content = bytearray(target.read_bytes())
            at = where % (len(content) + 1)
            if kind == "flip" and content:
                content[at % len(content)] ^= data[0] or 1
            elif kind == "truncate":
                del content[at:]
            elif kind == "append":
                content += data
            else:
                content.clear()
            target.write_bytes(bytes(content))
        try:
            snapshot = read_snapshot(field)
            plan = build_replay(snapshot, ReplayOptions(name="case", duration_s=120.0), root / "c")
        except DmsimError as error:
            refused: DmsimError | None = error
        else:
            refused = None
        if refused is not None:
            assert refused.problems
            return
        counts = run_scenario(plan.scenario_path, progress=False).verdict.counts
        assert {cls for cls, n in counts.items() if n} <= {"delivered", "quarantined", "corrupted"}
        if counts.get("corrupted"):
            assert any("appears twice" in line for line in describe(snapshot))


def test_fuzz_644_garbage_after_a_failed_unlink_is_no_second_copy(tmp_path: Path) -> None:
    """Found by `dmsim fuzz` on a replay of this field directory (seed 644, shrunk from 7
    faults): a preloaded file was acknowledged, its unlink failed (EIO), another writer then
    appended a byte of garbage, and the resend carried new keys: ten readings twice."""
    case = replay(make_field_dir(tmp_path / "field"), tmp_path / "case", duration_s=120.0)
    unlink_fails = FaultStep(
        at=0.0, kind="disk_eio", duration=1.0, fault_id="f7",
        params={"ops": ["unlink"], "probability": 0.05},
    )  # fmt: skip
    garbage = FaultStep(at=4.0, kind="disk_append_garbage", fault_id="f5", params={"bytes": 1})
    scenario = load_scenario(case)
    scenario = dataclasses.replace(
        scenario,
        faults=FaultSchedule((unlink_fails, garbage)),
        expectations=fuzz_expectations(scenario),
    )
    report = run_scenario(scenario, seed=644, progress=False)
    assert report.verdict.counts.get("duplicated") == 0, report.summary()
    assert report.passed, report.summary()
