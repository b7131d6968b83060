"""Strict JSON parsing that remembers where every value is.

Why not ``json.loads``: it stops at the first problem and says little about what it found, it
silently keeps the last of two duplicate keys, and it accepts ``NaN`` and ``Infinity``. Machine
configs are edited by hand (the documents' own examples contain ``//`` comments, ``...``
placeholders, curly quotes and a duplicated key), so this parser names the line, the column
and the offending text, reports every duplicate key and non-finite number it meets, and returns
a position index so later validation errors can point at a line too.

Strings are decoded by :func:`json.loads` on the string token and numbers are matched with
:data:`json.scanner.NUMBER_RE`, so what is accepted is exactly JSON.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from json.scanner import NUMBER_RE
from typing import NoReturn, TypeAlias

from dmsim.errors import Problem

__all__ = ["JsonDocument", "JsonPath", "JsonValue", "format_path", "parse_json"]

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonPath: TypeAlias = tuple[str | int, ...]

MAX_DEPTH = 100  # far beyond any machine config; keeps recursion bounded

_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"')
_TOKEN = re.compile(r'[^\s{}\[\],:"]{1,24}')
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CURLY_QUOTES = "\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"
_NON_FINITE = ("NaN", "-Infinity", "Infinity")


def format_path(path: JsonPath) -> str:
    """``("components", 2, "name")`` → ``components[2].name``; odd keys are JSON-quoted."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


@dataclass(frozen=True, slots=True)
class JsonDocument:
    """A parsed document: its value (``None`` if unparseable), problems, and positions."""

    value: JsonValue
    problems: tuple[Problem, ...]
    positions: Mapping[JsonPath, int]  # where each value starts
    key_positions: Mapping[JsonPath, int]  # where each object member's key starts
    line_starts: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of a character offset."""
        return _line_col(self.line_starts, offset)

    def locate(self, path: JsonPath, *, key: bool = False) -> tuple[int, int] | None:
        """Where ``path`` is (its key, with ``key``), or where its nearest existing ancestor
        is (a missing key)."""
        if key and path in self.key_positions:
            return self.line_col(self.key_positions[path])
        for end in range(len(path), -1, -1):
            offset = self.positions.get(path[:end])
            if offset is not None:
                return self.line_col(offset)
        return None


class _Stop(Exception):
    """A syntax error: parsing cannot go on."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.problems: list[Problem] = []
        self.positions: dict[JsonPath, int] = {}
        self.key_positions: dict[JsonPath, int] = {}
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.line_starts = tuple(starts)

    def document(self) -> JsonDocument:
        value: JsonValue = None
        try:
            self.skip_ws()
            if self.pos == len(self.text):
                self.fail((), "the document is empty")
            value = self.value((), 0)
            self.skip_ws()
            if self.pos < len(self.text):
                self.fail((), f"invalid JSON: extra text after the document, found {self.found()}")
        except _Stop:
            value = None
        return JsonDocument(
            value, tuple(self.problems), self.positions, self.key_positions, self.line_starts
        )

    # -- reporting -------------------------------------------------------------------------

    def problem(self, path: JsonPath, message: str, offset: int) -> None:
        line, column = self.line_col(offset)
        self.problems.append(Problem(format_path(path), message, line, column))

    def fail(self, path: JsonPath, message: str, offset: int | None = None) -> NoReturn:
        self.problem(path, message, self.pos if offset is None else offset)
        raise _Stop

    def found(self) -> str:
        """Describe what is at the current position, with a hint for the usual mistakes."""
        text, pos = self.text, self.pos
        if pos >= len(text):
            return "end of input"
        ch = text[pos]
        if text.startswith(("//", "/*"), pos):
            return f"a comment {text[pos : pos + 2]!r} (JSON has no comments)"
        if ch in _CURLY_QUOTES:
            return f"{ch!r} ({unicodedata.name(ch)}); JSON needs a straight double quote '\"'"
        if ch == "'":
            return '"\'" (JSON strings need double quotes)'
        if ch == '"':
            string = _STRING.match(text, pos)
            shown = string.group() if string else ch
            return repr(shown if len(shown) <= 24 else shown[:21] + "...")
        token = _TOKEN.match(text, pos)
        if token is not None:
            return repr(token.group())
        return repr(ch)

    def after_comma(self) -> bool:
        before = self.text[: self.pos].rstrip(" \t\n\r")
        return before.endswith(",")

    # -- grammar ---------------------------------------------------------------------------

    def skip_ws(self) -> None:
        match = _WS.match(self.text, self.pos)
        self.pos = match.end() if match else self.pos

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self, path: JsonPath, depth: int) -> JsonValue:
        if depth > MAX_DEPTH:
            self.fail(path, f"invalid JSON: nested more than {MAX_DEPTH} levels deep")
        self.positions[path] = self.pos
        ch = self.peek()
        if ch == "{":
            return self.object(path, depth)
        if ch == "[":
            return self.array(path, depth)
        if ch == '"':
            return self.string(path)
        for word, constant in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return constant
        for word in _NON_FINITE:
            if self.text.startswith(word, self.pos):
                self.problem(path, f"{word} is not valid JSON (use a finite number)", self.pos)
                self.pos += len(word)
                return None
        if ch != "-" and not ch.isdecimal():
            self.fail(path, f"invalid JSON: expected a value, found {self.found()}")
        return self.number(path)

    def object(self, path: JsonPath, depth: int) -> dict[str, JsonValue]:
        result: dict[str, JsonValue] = {}
        key_offsets: dict[str, int] = {}
        self.pos += 1
        self.skip_ws()
        if self.peek() == "}":
            self.pos += 1
            return result
        while True:
            self.skip_ws()
            if self.peek() != '"':
                hint = " (trailing comma?)" if self.peek() == "}" and self.after_comma() else ""
                self.fail(
                    path,
                    f"invalid JSON: expected a property name in double quotes, "
                    f"found {self.found()}{hint}",
                )
            key_offset = self.pos
            key = self.string(path)
            self.skip_ws()
            if self.peek() != ":":
                self.fail(path, f"invalid JSON: expected ':' after {key!r}, found {self.found()}")
            self.pos += 1
            self.skip_ws()
            child = (*path, key)
            if key in key_offsets:
                line, column = self.line_col(key_offsets[key])
                self.problem(
                    child,
                    f"duplicate key {key!r} (first at line {line}, column {column}); "
                    "JSON readers disagree on which one wins",
                    key_offset,
                )
            key_offsets[key] = key_offset
            self.key_positions[child] = key_offset
            result[key] = self.value(child, depth + 1)
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "}":
                self.pos += 1
                return result
            self.fail(path, f"invalid JSON: expected ',' or '}}', found {self.found()}")

    def array(self, path: JsonPath, depth: int) -> list[JsonValue]:
        result: list[JsonValue] = []
        self.pos += 1
        self.skip_ws()
        if self.peek() == "]":
            self.pos += 1
            return result
        while True:
            self.skip_ws()
            if self.peek() == "]" and self.after_comma():
                self.fail(path, "invalid JSON: expected a value, found ']' (trailing comma?)")
            result.append(self.value((*path, len(result)), depth + 1))
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "]":
                self.pos += 1
                return result
            self.fail(path, f"invalid JSON: expected ',' or ']', found {self.found()}")

    def string(self, path: JsonPath) -> str:
        match = _STRING.match(self.text, self.pos)
        if match is None:
            self.fail(path, "invalid JSON: unterminated string (no closing '\"' on this line)")
        try:
            decoded = json.loads(match.group())
        except json.JSONDecodeError as error:
            self.fail(path, f"invalid JSON: {error.msg.lower()}", self.pos + error.pos)
        self.pos = match.end()
        return str(decoded)

    def number(self, path: JsonPath) -> JsonValue:
        match = NUMBER_RE.match(self.text, self.pos)
        if match is None:
            self.fail(path, f"invalid JSON: expected a value, found {self.found()}")
        start, literal = self.pos, match.group()
        self.pos = match.end()
        integer, fraction, exponent = match.groups()
        try:
            if fraction is None and exponent is None:
                return int(integer)
            number = float(literal)
        except ValueError:  # more digits than Python converts
            self.problem(path, f"number too long ({len(literal)} characters)", start)
            return None
        if not math.isfinite(number):
            self.problem(path, f"number {literal} is out of range", start)
            return None
        return number

    def line_col(self, offset: int) -> tuple[int, int]:
        return _line_col(self.line_starts, offset)


def _line_col(line_starts: tuple[int, ...], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(line_starts, offset)
    return line, offset - line_starts[line - 1] + 1


def parse_json(text: str) -> JsonDocument:
    """Parse ``text``; never raises on bad input (problems are in the result)."""
    return _Parser(text).document()
