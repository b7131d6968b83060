"""``dmsim machine --status-file``: refused at start when it cannot be, never stopping the
machine later, and never half a file or invalid JSON for a reader."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

from dmsim.errors import ConfigError
from dmsim.service._status_file import StatusFile


def test_a_status_file_is_one_valid_json_object_replaced_whole(tmp_path: Path) -> None:
    status_file = StatusFile(tmp_path / "status.json")
    for uploaded in (1, 2):
        status_file.write({"state": "running", "sync": {"files_uploaded": uploaded}})
        written = json.loads((tmp_path / "status.json").read_text(encoding="utf-8"))
        assert written["sync"] == {"files_uploaded": uploaded}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


@pytest.mark.parametrize(
    ("where", "message"),
    [("missing/status.json", "missing: no such directory"), ("", "is a directory")],
)
def test_a_status_file_that_cannot_be_is_refused_at_start(
    tmp_path: Path, where: str, message: str
) -> None:
    with pytest.raises(ConfigError, match="--status-file") as refused:
        StatusFile(tmp_path / where)
    assert message in str(refused.value)


def test_a_value_json_cannot_carry_is_reported_once_and_the_last_good_file_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "status.json"
    status_file = StatusFile(path)
    status_file.write({"age_s": 1.0})
    with caplog.at_level(logging.WARNING):
        status_file.write({"age_s": math.inf})
        status_file.write({"age_s": math.nan})
        assert json.loads(path.read_text(encoding="utf-8"))["age_s"] == 1.0
        status_file.write({"age_s": 3.0})
    assert json.loads(path.read_text(encoding="utf-8"))["age_s"] == 3.0
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith(f"status file not written: {path}: Out of range float")
    assert messages[1] == f"status file written again: {path}"
