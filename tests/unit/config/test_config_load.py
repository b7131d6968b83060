"""Loading from files and text: every way the input can be unreadable is a ConfigError."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pytest
from tests.unit.config.config_kit import CPUS, DATA, ENV

from dmsim.config import MAX_CONFIG_BYTES, load_machine_config, loads_machine_config
from dmsim.errors import ConfigError

GOOD = DATA / "seeds" / "sensors_tmp36_wifi.json"


def problem_of(source: bytes | str | Path) -> tuple[str | None, str, int | None, int | None]:
    def attempt() -> None:
        if isinstance(source, bytes):
            loads_machine_config(source, source="x.json", env=ENV, cpu_count=CPUS)
        else:
            load_machine_config(source, env=ENV, cpu_count=CPUS)

    with pytest.raises(ConfigError) as caught:
        attempt()
    (problem,) = caught.value.problems
    return caught.value.source, problem.message, problem.line, problem.column


def test_path_and_text_both_load() -> None:
    by_path = load_machine_config(GOOD, env=ENV, cpu_count=CPUS)
    by_str_path = load_machine_config(str(GOOD), env=ENV, cpu_count=CPUS)
    by_text = load_machine_config(GOOD.read_text(), env=ENV, cpu_count=CPUS)
    by_bytes = loads_machine_config(GOOD.read_bytes(), env=ENV, cpu_count=CPUS)
    assert by_path == by_str_path == by_text == by_bytes
    assert (by_path.source, by_text.source) == (str(GOOD), "<string>")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert problem_of(missing) == (
        str(missing),
        "cannot read the file: No such file or directory",
        None,
        None,
    )


def test_directory(tmp_path: Path) -> None:
    assert problem_of(tmp_path)[1] == "cannot read the file: Is a directory"


def test_not_utf8(tmp_path: Path) -> None:
    assert problem_of(b'{"a":\n  "\xff"}') == (
        "x.json",
        "not UTF-8 text: byte 0xff (invalid start byte)",
        2,
        4,
    )
    utf16 = '{"components": []}'.encode("utf-16")
    assert (
        problem_of(utf16)[1]
        == "not UTF-8 text: byte 0xff (invalid start byte); it looks like UTF-16"
    )


def test_a_byte_order_mark_is_accepted() -> None:
    config = loads_machine_config(b"\xef\xbb\xbf{}", env=ENV, cpu_count=CPUS)
    assert config.components == ()


@pytest.mark.parametrize(
    ("text", "found"),
    [("[]", "an array"), ("null", "null"), ('"x"', "a string ('x')"), ("4", "a number (4)")],
)
def test_the_document_must_be_an_object(text: str, found: str) -> None:
    assert problem_of(text.encode()) == (
        "x.json",
        f"a machine config must be a JSON object, found {found}",
        1,
        1,
    )


def test_too_large(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_CONFIG_BYTES + 1))
    assert problem_of(big)[1] == (
        f"the file is larger than {MAX_CONFIG_BYTES} bytes; is it a machine config?"
    )


class FakeHandle(io.BytesIO):
    pass


class FakeFS:
    """The filesystem port's ``open_read``, over a dict of files."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.opened: list[str] = []

    def open_read(self, path: str) -> FakeHandle:
        self.opened.append(path)
        if path not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return FakeHandle(self.files[path])


def test_reads_through_a_filesystem_port() -> None:
    fs = FakeFS({"/etc/machine.json": GOOD.read_bytes()})
    config = load_machine_config("/etc/machine.json", fs=fs, env=ENV, cpu_count=CPUS)
    assert len(config.components) == 2
    assert fs.opened == ["/etc/machine.json"]
    with pytest.raises(ConfigError, match="cannot read the file: No such file or directory"):
        load_machine_config("/etc/other.json", fs=fs)


def test_a_str_starting_with_a_brace_is_text_not_a_path() -> None:
    config = load_machine_config('  \n{"components": []}', env=ENV, cpu_count=CPUS)
    assert config.source == "<string>"
    assert problem_of('{"components": 5}') == (
        "<string>",
        "expected an array, found a number (5)",
        1,
        16,
    )
