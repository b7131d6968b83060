"""Typed reads from untrusted JSON-like data, collecting every problem with its path.

A reader never raises on bad input: it records a :class:`Problem` (with the JSON path and, when
the data came from text, line and column) and returns a default so validation can go on and
report everything at once. ``null`` and a missing key mean the same thing, as in rdk (Go).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Collection, Mapping
from typing import Protocol, TypeVar, cast

from dmsim.errors import Problem

from ._jsonpos import JsonPath, JsonValue, format_path

__all__ = ["Reader", "describe"]


class Locate(Protocol):
    """Where a path is in the source text: (line, column), or None."""

    def __call__(self, path: JsonPath, *, key: bool = False) -> tuple[int, int] | None: ...


T = TypeVar("T")


def _hint(value: object) -> str:
    """How to write a number that arrived as text."""
    text = str(value)
    try:
        float(text)
    except ValueError:
        return ""
    if "e" in text.lower() and "." not in text:  # YAML 1.1 reads 1e9 as a string
        return f" (YAML reads {text} as text: write it with a point, like 1.0e+9)"
    return " (a number in quotes is text)"


def describe(value: object) -> str:
    """A short description of a value for messages: ``a string ("abc")``, ``an array``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__} (not a JSON value)"


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Reader:
    """Collects problems; offers typed field reads that report and fall back to defaults."""

    def __init__(self, locate: Locate | None = None) -> None:
        self.problems: list[Problem] = []
        self._locate = locate

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def report(
        self, path: JsonPath, message: str, *, severity: str = "error", at_key: bool = False
    ) -> None:
        where = self._locate(path, key=at_key) if self._locate else None
        line, column = where if where else (None, None)
        self.problems.append(Problem(format_path(path), message, line, column, severity))

    def error(self, path: JsonPath, message: str) -> None:
        self.report(path, message)

    def warn(self, path: JsonPath, message: str) -> None:
        self.report(path, message, severity="warning")

    # -- containers ------------------------------------------------------------------------

    def mapping(self, value: object, path: JsonPath) -> dict[str, object] | None:
        """``value`` as an object (``null`` → empty), or None after reporting a wrong type."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"expected an object, found {describe(value)}")
            return None
        bad = [k for k in value if not isinstance(k, str)]
        for key in bad:
            self.error(path, f"object keys must be strings, found {describe(key)}")
        return {k: v for k, v in value.items() if isinstance(k, str)}

    def array(self, value: object, path: JsonPath) -> list[object]:
        """``value`` as an array (``null`` → empty); a wrong type is reported, giving []."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, f"expected an array, found {describe(value)}")
            return []
        return value

    def objects(self, value: object, path: JsonPath) -> list[tuple[JsonPath, dict[str, object]]]:
        """The elements of an array of objects, each with its path; wrong ones are reported."""
        out = []
        for index, item in enumerate(self.array(value, path)):
            obj = self.mapping(item, (*path, index))
            if obj is not None:
                out.append(((*path, index), obj))
        return out

    def unknown_keys(
        self,
        obj: Mapping[str, object],
        path: JsonPath,
        known: Collection[str],
        *,
        ignored: Mapping[str, str] | None = None,
    ) -> None:
        """Warn about keys that mean nothing here (with a spelling suggestion)."""
        for key in obj:
            if key in known:
                continue
            if ignored and key in ignored:
                message = f"{key!r} is ignored: {ignored[key]}"
                self.report((*path, key), message, severity="warning", at_key=True)
                continue
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            message = f"unknown attribute {key!r} is ignored{hint}"
            self.report((*path, key), message, severity="warning", at_key=True)

    # -- scalars ---------------------------------------------------------------------------

    def _typed(
        self,
        obj: Mapping[str, object],
        key: str,
        path: JsonPath,
        default: T,
        *,
        check: Callable[[object], bool],
        expected: str,
    ) -> T:
        value = obj.get(key)
        if value is None:
            return default
        if not check(value):
            self.error((*path, key), f"expected {expected}, found {describe(value)}")
            return default
        return cast(T, value)  # check() proved the type

    def string(self, obj: Mapping[str, object], key: str, path: JsonPath, default: str = "") -> str:
        return self._typed(
            obj, key, path, default, check=lambda v: isinstance(v, str), expected="a string"
        )

    def boolean(
        self, obj: Mapping[str, object], key: str, path: JsonPath, default: bool = False
    ) -> bool:
        return self._typed(
            obj, key, path, default, check=lambda v: isinstance(v, bool), expected="true or false"
        )

    def number(
        self, obj: Mapping[str, object], key: str, path: JsonPath, default: float | None
    ) -> float | None:
        value = obj.get(key)
        if value is None:
            return default
        if not is_number(value):
            self.error((*path, key), f"expected a number, found {describe(value)}{_hint(value)}")
            return default
        number = float(cast(float, value))  # is_number() proved it
        if not math.isfinite(number):
            self.error((*path, key), f"expected a finite number, found {value!r}")
            return default
        return number

    def integer(
        self, obj: Mapping[str, object], key: str, path: JsonPath, default: int | None
    ) -> int | None:
        value = obj.get(key)
        if value is None:
            return default
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self.error((*path, key), f"expected a whole number, found {describe(value)}")
            return default
        return value

    def strings(self, obj: Mapping[str, object], key: str, path: JsonPath) -> tuple[str, ...]:
        out = []
        for index, item in enumerate(self.array(obj.get(key), (*path, key))):
            if isinstance(item, str):
                out.append(item)
            else:
                self.error((*path, key, index), f"expected a string, found {describe(item)}")
        return tuple(out)

    def string_map(self, obj: Mapping[str, object], key: str, path: JsonPath) -> dict[str, str]:
        """An object whose values must all be strings (like rdk's ``map[string]string``)."""
        mapping = self.mapping(obj.get(key), (*path, key))
        out: dict[str, str] = {}
        for name, item in (mapping or {}).items():
            if isinstance(item, str):
                out[name] = item
            else:
                hint = f'; write it as a string, e.g. "{item}"' if is_number(item) else ""
                self.error((*path, key, name), f"expected a string, found {describe(item)}{hint}")
        return out

    def json_value(self, value: object, path: JsonPath, *, max_depth: int = 100) -> JsonValue:
        """A deep copy of ``value`` if it is plain JSON; otherwise report where it is not."""
        stack: list[tuple[object, JsonPath, int]] = [(value, path, 0)]
        ok = True
        while stack:
            item, where, depth = stack.pop()
            if depth > max_depth:
                self.error(where, f"nested more than {max_depth} levels deep")
                return None
            if isinstance(item, dict):
                for k, v in item.items():
                    if not isinstance(k, str):
                        self.error(where, f"object keys must be strings, found {describe(k)}")
                        ok = False
                    else:
                        stack.append((v, (*where, k), depth + 1))
            elif isinstance(item, list):
                stack.extend((v, (*where, i), depth + 1) for i, v in enumerate(item))
            elif isinstance(item, float) and not math.isfinite(item):
                self.error(where, f"expected a finite number, found {item!r}")
                ok = False
            elif item is not None and not isinstance(item, bool | int | float | str):
                self.error(where, f"expected a JSON value, found {describe(item)}")
                ok = False
        return _copy(value) if ok else None


def _copy(value: object) -> JsonValue:
    if isinstance(value, dict):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value  # type: ignore[return-value]  # json_value() checked every leaf
