"""``judge_real_run`` follows files other programs wrote into a real machine's sync paths
(the wall-clock run's writers) to what the cloud stored by ``FileUpload``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dmsim.cloud import CloudCore
from dmsim.cloud.samples import file_metadata
from dmsim.scenario._judge import judge_real_run

WHOLE, OTHER = b"a,b\n" * 1000, b"c,d\n" * 10


def events(path: Path, *lines: tuple[str, str, dict[str, object]]) -> Path:
    path.write_text(
        "".join(json.dumps({"time": t, "kind": k, **f}) + "\n" for t, k, f in lines),
        encoding="utf-8",
    )
    return path


def written(time: str, path: str, data: bytes) -> tuple[str, str, dict[str, object]]:
    digest = hashlib.sha256(data).hexdigest()
    return (time, "file.written", {"path": path, "size": len(data), "digest": digest})


def test_a_file_sent_half_written_fails_the_real_run(tmp_path: Path) -> None:
    trace = events(
        tmp_path / "trace.jsonl",
        ("2026-01-01T00:00:00Z", "machine.start", {"boot": 1, "part_id": "p"}),
        ("2026-01-01T00:01:00Z", "machine.stop", {"boot": 1, "uploaded": 2}),
    )
    files = events(
        tmp_path / "files.jsonl",
        written("2026-01-01T00:00:10Z", "/r/a.csv", WHOLE),
        written("2026-01-01T00:00:20Z", "/r/b.csv", OTHER),
        written("2026-01-01T00:00:30Z", "/r/c.csv", OTHER + OTHER),
    )
    cloud = CloudCore(clock=lambda: 1_767_225_615.0, data_dir=str(tmp_path / "cloud"))
    cloud.ingest_file(file_metadata("/r/a.csv"), WHOLE[:100], key="a-half")
    cloud.ingest_file(file_metadata("/r/a.csv"), WHOLE, key="a-whole")
    cloud.ingest_file(file_metadata("/r/b.csv"), OTHER, key="b")
    cloud.close()

    verdict = judge_real_run(trace, tmp_path / "cloud", durability_window_s=0, written_files=files)
    tally = verdict.to_json()["arbitrary_files"]
    assert tally == {
        "written": 3, "stored": 1, "pending": 1, "lost": 0, "duplicated": 0, "corrupted": 1
    }  # fmt: skip
    assert not verdict.passed
    assert (
        "sync paths: 3 written: 1 stored, 1 pending; 0 lost, 0 duplicated, 1 corrupted  FAIL"
        in (verdict.summary())
    )
    # Without the writers' account the files are not followed: a bench machine syncing
    # files nobody recorded is judged by its readings alone.
    without = judge_real_run(trace, tmp_path / "cloud", durability_window_s=0)
    assert set(without.to_json()["arbitrary_files"].values()) == {0}
    assert without.passed
