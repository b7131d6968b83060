"""YAML with line marks: every path knows its line; ambiguous YAML is refused."""

from __future__ import annotations

import pytest

from dmsim.errors import ScenarioError
from dmsim.scenario._yaml import line_of, load_yaml

TEXT = """\
name: demo
epoch: 2026-01-01T00:00:00Z
disk:
  capacity: 1GiB
faults:
  - at: 90s
    kind: crash
  - {at: 2m, kind: loss}
"""


def test_lines_of_keys_and_items() -> None:
    located = load_yaml(TEXT, source="t.yaml")
    assert located.data["epoch"] == "2026-01-01T00:00:00Z"  # a string, not a datetime
    assert located.line("name") == 1
    assert located.line("disk.capacity") == 4
    assert located.line("faults[0]") == 6
    assert located.line("faults[0].kind") == 7
    assert located.line("faults[1].kind") == 8
    assert located.line("faults[1].nothing.deeper") == 8  # nearest ancestor
    assert line_of({}, "x.y") is None


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("a: 1\nb: [1, 2\n", "invalid YAML", 3),
        ("a: 1\na: 2\n", "key 'a' given twice (first on line 1)", 2),
        ("1: x\n", "keys must be strings", 1),
        ("", "the file is empty", None),
        ("a: &x [*x]\n", "a recursive alias", 1),
        ("a: !!python/object:os.system x\n", "invalid YAML", 1),
    ],
)
def test_refused(text: str, fragment: str, line: int | None) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_yaml(text, source="t.yaml")
    problem = caught.value.problems[0]
    assert fragment in problem.message
    assert problem.line == line
    assert str(caught.value).startswith("t.yaml: ")


def test_alias_bombs_are_refused() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 8):
        lines.append(
            f"{'abcdefgh'[i]}: &{'abcdefgh'[i]} [" + ", ".join([f"*{'abcdefgh'[i - 1]}"] * 10) + "]"
        )
    with pytest.raises(ScenarioError, match="too many values"):
        load_yaml("\n".join(lines) + "\n", source="bomb.yaml")


def test_merge_keys_and_anchors_work() -> None:
    located = load_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n", source="m.yaml")
    assert located.data["other"] == {"x": 1, "y": 2}
