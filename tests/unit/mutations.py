"""Mutations of a parsed JSON/YAML document for the loaders' property tests: delete a key,
replace a value by one of another type, negate a number, put a random string anywhere, nest a
value deeper."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

Location = list[str | int]

odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def locations(value: Any, here: Location | None = None) -> list[Location]:
    """Every path into a JSON value (the root too)."""
    here = here or []
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found += locations(item, [*here, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += locations(item, [*here, index])
    return found


def _replace(root: Any, where: Location, new: Any) -> Any:
    if not where:
        return new
    parent = root
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = new
    return root


def _get(root: Any, where: Location) -> Any:
    for step in where:
        root = root[step]
    return root


def mutate(draw: st.DrawFn, document: Any, *, values: st.SearchStrategy[Any] = odd_values) -> Any:
    """A copy of ``document`` with one to three mutations; ``values`` are the odd values put
    in place of others."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(locations(document)))
        current = _get(document, where)
        kind = draw(st.sampled_from(["delete", "retype", "negate", "string", "nest"]))
        if kind == "delete" and where:
            del _get(document, where[:-1])[where[-1]]
        elif (
            kind == "negate" and isinstance(current, int | float) and not isinstance(current, bool)
        ):
            document = _replace(document, where, -current - 1)
        elif kind == "string":
            document = _replace(document, where, draw(st.text(max_size=12)))
        elif kind == "nest":
            document = _replace(document, where, draw(st.sampled_from([[current], {"x": current}])))
        else:  # a copy: a later mutation must not change the strategy's own constants
            document = _replace(document, where, copy.deepcopy(draw(values)))
    return document
