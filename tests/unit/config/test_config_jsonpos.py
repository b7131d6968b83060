"""Strict JSON parsing: positions, precise syntax errors, and agreement with ``json``."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmsim.config import format_path
from dmsim.config._jsonpos import MAX_DEPTH, parse_json


def only(text: str) -> tuple[str, int | None, int | None, str]:
    document = parse_json(text)
    assert len(document.problems) == 1, document.problems
    p = document.problems[0]
    return p.path, p.line, p.column, p.message


def test_format_path() -> None:
    assert format_path(()) == ""
    assert format_path(("components", 2, "service_configs", 0, "attributes")) == (
        "components[2].service_configs[0].attributes"
    )
    assert format_path(("a", "odd key", "x-y", 3)) == 'a["odd key"]["x-y"][3]'
    assert format_path((0, "a")) == "[0].a"


def test_positions_of_every_value() -> None:
    text = '{\n  "a": [1, {"b": null}],\n  "c": "x"\n}'
    document = parse_json(text)
    assert document.ok
    assert document.value == {"a": [1, {"b": None}], "c": "x"}
    assert document.locate(()) == (1, 1)
    assert document.locate(("a",)) == (2, 8)
    assert document.locate(("a", 1, "b")) == (2, 18)
    assert document.locate(("c",)) == (3, 8)
    # a missing key is located at its nearest existing ancestor
    assert document.locate(("a", 1, "missing", 3)) == (2, 12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("", 1, 1, "the document is empty")),
        ("  \n ", ("", 2, 2, "the document is empty")),
        (
            '{"a": ...}',
            ("a", 1, 7, "invalid JSON: expected a value, found '...'"),
        ),
        (
            '{"a": 1,\n // note\n "b": 2}',
            (
                "",
                2,
                2,
                "invalid JSON: expected a property name in double quotes, "
                "found a comment '//' (JSON has no comments)",
            ),
        ),
        (
            '{"a": [1, /* x */ 2]}',
            (
                "a[1]",
                1,
                11,
                "invalid JSON: expected a value, found a comment '/*' (JSON has no comments)",
            ),
        ),
        (
            '{"pin": “27”}',
            (
                "pin",
                1,
                9,
                "invalid JSON: expected a value, found '“' (LEFT DOUBLE QUOTATION MARK); "
                "JSON needs a straight double quote '\"'",
            ),
        ),
        (
            "{'a': 1}",
            (
                "",
                1,
                2,
                "invalid JSON: expected a property name in double quotes, "
                'found "\'" (JSON strings need double quotes)',
            ),
        ),
        (
            '{"a": 1,}',
            (
                "",
                1,
                9,
                "invalid JSON: expected a property name in double quotes, found '}' "
                "(trailing comma?)",
            ),
        ),
        (
            '{"a": [1, 2, ]}',
            ("a", 1, 14, "invalid JSON: expected a value, found ']' (trailing comma?)"),
        ),
        ('{"a": 1 "b": 2}', ("", 1, 9, "invalid JSON: expected ',' or '}', found '\"b\"'")),
        ('{"a" 1}', ("", 1, 6, "invalid JSON: expected ':' after 'a', found '1'")),
        ("[1 2]", ("", 1, 4, "invalid JSON: expected ',' or ']', found '2'")),
        (
            '{"a": "x',
            ("a", 1, 7, "invalid JSON: unterminated string (no closing '\"' on this line)"),
        ),
        ('{"a": "x\\q"}', ("a", 1, 9, "invalid JSON: invalid \\escape")),
        ('{"a": "\t"}', ("a", 1, 8, "invalid JSON: invalid control character at")),
        ("{} {}", ("", 1, 4, "invalid JSON: extra text after the document, found '{'")),
        ('{"a": tru}', ("a", 1, 7, "invalid JSON: expected a value, found 'tru'")),
        ('{"a": 1}\n\n  x', ("", 3, 3, "invalid JSON: extra text after the document, found 'x'")),
        ('{"a":', ("a", 1, 6, "invalid JSON: expected a value, found end of input")),
    ],
)
def test_syntax_errors_name_the_exact_spot(text: str, expected: tuple[Any, ...]) -> None:
    assert only(text) == expected


def test_duplicate_keys_are_all_reported_and_parsing_goes_on() -> None:
    text = '{\n "a": 1,\n "b": 2,\n "a": 3,\n "b": 4\n}'
    document = parse_json(text)
    assert document.value == {"a": 3, "b": 4}  # last wins, as in rdk (Go) and json
    assert [(p.path, p.line, p.column, p.message) for p in document.problems] == [
        ("a", 4, 2, "duplicate key 'a' (first at line 2, column 2); JSON readers disagree "
         "on which one wins"),
        ("b", 5, 2, "duplicate key 'b' (first at line 3, column 2); JSON readers disagree "
         "on which one wins"),
    ]  # fmt: skip


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_constants_are_rejected_where_they_are(literal: str) -> None:
    document = parse_json(f'{{"x": 1, "hz": {literal}, "y": 2}}')
    assert document.value == {"x": 1, "hz": None, "y": 2}
    assert [(p.path, p.column, p.message) for p in document.problems] == [
        ("hz", 16, f"{literal} is not valid JSON (use a finite number)")
    ]


def test_out_of_range_and_overlong_numbers() -> None:
    assert only('{"a": 1e999}') == ("a", 1, 7, "number 1e999 is out of range")
    digits = "9" * 5000
    assert only(f"[{digits}]") == ("[0]", 1, 2, "number too long (5000 characters)")


def test_nesting_is_bounded() -> None:
    deep = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    path, line, column, message = only(deep)
    assert path == "[0]" * (MAX_DEPTH + 1)
    assert (line, column) == (1, MAX_DEPTH + 2)
    assert message == f"invalid JSON: nested more than {MAX_DEPTH} levels deep"
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH).ok


def test_columns_count_characters_not_bytes() -> None:
    assert only('{"é": “x”}')[1:3] == (1, 7)  # é is two bytes in UTF-8


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values, st.sampled_from([None, 2]))
def test_round_trips_what_json_writes(value: Any, indent: int | None) -> None:
    document = parse_json(json.dumps(value, indent=indent))
    assert document.ok
    assert document.value == value


def _json_verdict(text: str) -> tuple[bool, Any]:
    """What the standard library makes of ``text``, with dmsim's stricter rules applied."""
    strict = True

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal strict
        strict = strict and len({k for k, _ in items}) == len(items)
        return dict(items)

    def constant(_: str) -> None:
        nonlocal strict
        strict = False

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except (ValueError, RecursionError):
        return False, None
    finite = all(math.isfinite(x) for x in _floats(value))
    return strict and finite, value


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    return []


@given(st.text(alphabet='{}[]:,"\\ \n\t0123456789.-+eEtruefalsnNI/abcx“', max_size=40))
def test_accepts_exactly_what_json_accepts(text: str) -> None:
    ok, value = _json_verdict(text)
    document = parse_json(text)
    assert document.ok == ok, (text, document.problems)
    if ok:
        assert document.value == value
    else:
        assert all(p.line is not None and p.column is not None for p in document.problems)


@given(json_values.map(json.dumps), st.data())
def test_any_truncation_is_an_error_with_a_position(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(text)))
    ok, _ = _json_verdict(text[:cut])
    document = parse_json(text[:cut])
    assert document.ok == ok
    for problem in document.problems:
        assert problem.line is not None
        assert 1 <= problem.line <= text[:cut].count("\n") + 1
