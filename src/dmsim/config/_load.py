"""Reading a machine config from a file or from text.

Every failure is a :class:`~dmsim.errors.ConfigError`: a missing file, a directory, bytes that
are not UTF-8 (with the line and column of the first bad byte), invalid JSON (line, column and
what was found), duplicate keys, and every validation problem (JSON path, and line and column
in the text). The file is read once at start-up, before any runtime exists; pass ``fs`` (any
object with the filesystem port's ``open_read``) to read through a simulated disk instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from dmsim.errors import ConfigError, Problem

from ._jsonpos import parse_json
from ._model import MachineConfig
from ._parse import parse_with_locator
from ._reader import describe

__all__ = ["MAX_CONFIG_BYTES", "load_machine_config", "loads_machine_config"]

MAX_CONFIG_BYTES = 16 * 1024 * 1024  # machine configs are kilobytes; this stops /dev/zero


class _ReadHandle(Protocol):
    def read(self, n: int = -1) -> bytes: ...

    def close(self) -> None: ...


class Readable(Protocol):
    """The part of the filesystem port a config load needs."""

    def open_read(self, path: str) -> _ReadHandle: ...


def loads_machine_config(
    text: str | bytes,
    *,
    source: str = "<string>",
    env: Mapping[str, str] | None = None,
    cpu_count: int | None = None,
) -> MachineConfig:
    """Parse and validate machine config JSON text; ``source`` names it in messages."""
    if isinstance(text, bytes):
        text = _decode(text, source)
    document = parse_json(text)
    if document.value is None or not isinstance(document.value, dict):
        problems = list(document.problems)
        if not problems:
            found = describe(document.value)
            line, column = document.locate(()) or (1, 1)
            message = f"a machine config must be a JSON object, found {found}"
            problems.append(Problem("", message, line, column))
        raise ConfigError(problems, source=source)
    return parse_with_locator(
        document.value,
        env=env,
        cpu_count=cpu_count,
        locate=document.locate,
        source=source,
        prior=document.problems,
    )


def load_machine_config(
    path_or_text: str | os.PathLike[str],
    *,
    fs: Readable | None = None,
    env: Mapping[str, str] | None = None,
    cpu_count: int | None = None,
) -> MachineConfig:
    """Load a machine config from a file, or from JSON text.

    A ``str`` whose first non-blank character is ``{`` is the config itself (a machine config is
    always an object); any other ``str`` or path-like is a file to read.
    """
    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
        return loads_machine_config(path_or_text, env=env, cpu_count=cpu_count)
    path = os.fspath(path_or_text)
    data = _read(path, fs)
    return loads_machine_config(data, source=path, env=env, cpu_count=cpu_count)


def _read(path: str, fs: Readable | None) -> bytes:
    try:
        if fs is not None:
            handle = fs.open_read(path)
            try:
                data = handle.read(MAX_CONFIG_BYTES + 1)
            finally:
                handle.close()
        else:
            with open(path, "rb") as file:
                data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(Problem("", f"cannot read the file: {reason}"), source=path) from None
    if len(data) > MAX_CONFIG_BYTES:
        message = f"the file is larger than {MAX_CONFIG_BYTES} bytes; is it a machine config?"
        raise ConfigError(Problem("", message), source=path)
    return data


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")  # tolerate a byte order mark
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        byte = data[error.start]
        hint = "; it looks like UTF-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        message = f"not UTF-8 text: byte 0x{byte:02x} ({error.reason}){hint}"
        raise ConfigError(Problem("", message, line, column), source=source) from None
