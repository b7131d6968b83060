"""``dmsim config check`` through the CLI's ``main`` in-process: every bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.config.config_kit import DATA

from dmsim.cli import main


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("VIAM_HOME", raising=False)


NOT_UTF8 = "not UTF-8 text: byte 0x89 (invalid start byte)"
NOT_OBJECT = "a machine config must be a JSON object, found an array"
NO_TYPE = "required: the component type, e.g. camera"
BAD_BYTES = "invalid JSON: expected a value, found '\\x00\\x01'"
AT_17 = "(line 1, column 17)"
NAMELESS = b'{"components": [{"name": "a", "model": "m"}]}'
CUT = "invalid JSON: expected ',' or '}', found end of input"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the file: No such file or directory"),
        ("<dir>", "cannot read the file: Is a directory"),
        (b"\x89PNG\r\n\x1a\n", f"(line 1, column 1): {NOT_UTF8}"),
        (b"", "(line 1, column 1): the document is empty"),
        (b"[1, 2]", f"(line 1, column 1): {NOT_OBJECT}"),
        (NAMELESS, f"components[0].type {AT_17}: {NO_TYPE}"),
        (b"\x00\x01", f"(line 1, column 1): {BAD_BYTES}"),
        (b'{"a": 1', f"(line 1, column 8): {CUT}"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("as_json", [False, True])
def test_bad_input_exits_2_with_the_problem(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | str | None,
    expected: str,
    as_json: bool,
) -> None:
    path = tmp_path / "machine.json"
    if content == "<dir>":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    argv = ["config", "check", *(["--json"] if as_json else []), str(path)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"{path}: 1 problem(s)\n  {expected}\n"


def test_good_file_in_both_formats(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = DATA / "examples" / "tomato_robot.json"
    assert main(["config", "check", "--json", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    effective = json.loads(out)
    assert effective["services"][0]["attributes"]["tags"] == ["tomato-picker"]
    assert effective["services"][0]["attributes"]["capture_dir"] == f"{tmp_path}/.viam/capture"
    assert main(["config", "check", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines()[-2:] == [
        "#   rdk:component:camera/depth-cam NextPointCloud [mime_type=pointcloud/pcd] 30 Hz, "
        "binary .pcd, tags tomato-picker",
        "#   rdk:component:arm/picker-arm JointPositions [] 1 Hz, tabular .dat, tags tomato-picker",
    ]


def test_config_without_a_subcommand_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"]) == 2
    assert "check" in capsys.readouterr().err


def data_manager_file(path: Path, attribute: str, value: object) -> Path:
    """A config whose data_manager sets ``attribute`` on line 4 (the key at column 5)."""
    lines = [
        "{",
        '  "services": [{"name": "dm", "type": "data_manager",',
        '   "attributes": {',
        f"    {json.dumps(attribute)}: {json.dumps(value)}",
        "  }}]",
        "}",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("attribute", "value", "problem"),
    [
        (
            "sync_interval_mins",
            1e308,
            "sync_interval_mins (line 4, column 27): must be in (0, 525600], got 1e+308",
        ),
        (
            "max_upload_message_bytes",
            10,
            "max_upload_message_bytes (line 4, column 33): must be at least 1024, got 10",
        ),
        (
            "additional_sync_paths",
            ["rel/path"],
            "additional_sync_paths[0] (line 4, column 31): must be an absolute path, "
            "got 'rel/path'",
        ),
        (
            "capture_dir",
            "data",
            "capture_dir (line 4, column 20): must be an absolute path, got 'data'",
        ),
    ],
)
def test_an_attribute_the_run_would_refuse_is_an_error_with_its_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    attribute: str,
    value: object,
    problem: str,
) -> None:
    path = data_manager_file(tmp_path / "machine.json", attribute, value)
    assert main(["config", "check", str(path)]) == 2
    assert capsys.readouterr().err.splitlines()[1:] == [f"  services[0].attributes.{problem}"]


def test_a_sync_interval_below_the_floor_is_warned_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = data_manager_file(tmp_path / "machine.json", "sync_interval_mins", 1e-9)
    assert main(["config", "check", str(path)]) == 0
    assert capsys.readouterr().err == (
        f"{path}: warning: services[0].attributes.sync_interval_mins (line 4, column 27): 1e-09 "
        "is below 0.0001, which means unset (as in rdk): the default (0.1) is used\n"
    )


def test_warnings_beside_errors_are_labelled_and_not_counted_as_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.json"
    config.write_text(
        json.dumps(
            {
                "components": [{"name": "p", "type": "sensor", "model": "fake"}],
                "services": [
                    {
                        "name": "dm",
                        "type": "data_manager",
                        "attributes": {"bogus": 1, "disk_usage_deletion_threshold": 2},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    assert main(["config", "check", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}: 1 problem(s), and 1 warning(s)" in err
    assert "  warning: services[0].attributes.bogus" in err
