"""YAML loading that remembers where each value came from, so errors can name the line.

PyYAML's composed node tree carries start marks; we build plain Python data from it ourselves
and record ``path → line`` for every key and item (``faults[3].at`` style paths). Timestamps
stay strings (the scenario schema wants ISO-8601 text, not ``datetime``), keys must be strings,
a key given twice is an error (PyYAML would silently keep the last), and recursive or
explosively repeated aliases are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dmsim.errors import Problem, ScenarioError

__all__ = ["Located", "child_path", "line_of", "load_yaml"]

_MAX_NODES = 100_000  # scenario files are small; this stops alias bombs fast


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class Located:
    """Parsed data and the 1-based line of every path in it."""

    data: Any
    lines: Mapping[str, int]

    def line(self, path: str) -> int | None:
        return line_of(self.lines, path)


def child_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def line_of(lines: Mapping[str, int], path: str) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[: max(cut, 0)]


class _Builder:
    def __init__(self, loader: _Loader) -> None:
        self._loader = loader
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []
        self._active: set[int] = set()
        self._count = 0

    def build(self, node: Node, path: str) -> Any:
        self._count += 1
        if self._count > _MAX_NODES:
            raise _TooBig(path, node.start_mark.line + 1)
        if id(node) in self._active:
            raise _Recursive(path, node.start_mark.line + 1)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, ScalarNode):
            return self._loader.construct_object(node, deep=True)
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, child_path(path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: MappingNode, path: str) -> dict[str, Any]:
        self._loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = (
                self._loader.construct_object(key_node)
                if isinstance(key_node, ScalarNode)
                else None
            )
            if not isinstance(key, str):
                self.problems.append(Problem(path, f"keys must be strings, got {key!r}", line=line))
                continue
            child = child_path(path, key)
            if key in out:
                first = self.lines.get(child)
                self.problems.append(
                    Problem(child, f"key {key!r} given twice (first on line {first})", line=line)
                )
                continue
            self.lines[child] = line
            out[key] = self.build(value_node, child)
        return out


class _Recursive(Exception):
    def __init__(self, path: str, line: int) -> None:
        self.path, self.line = path, line


class _TooBig(_Recursive):
    pass


def load_yaml(text: str, *, source: str) -> Located:
    """Parse one YAML document; raise :class:`ScenarioError` with lines on any problem."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError(Problem("", "the file is empty"), source=source)
        builder = _Builder(loader)
        data = builder.build(node, "")
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = error.problem or error.context or "invalid YAML"
        raise ScenarioError(
            Problem(
                "",
                f"invalid YAML: {message}",
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            ),
            source=source,
        ) from None
    except yaml.YAMLError as error:
        raise ScenarioError(Problem("", f"invalid YAML: {error}"), source=source) from None
    except _TooBig as big:
        raise ScenarioError(
            Problem(big.path, "too many values (alias expansion?)", line=big.line), source=source
        ) from None
    except _Recursive as loop:
        raise ScenarioError(
            Problem(loop.path, "a recursive alias", line=loop.line), source=source
        ) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise ScenarioError(builder.problems, source=source)
    return Located(data, builder.lines)
