"""Proxy fault schedules: (time offset, action) pairs applied on the wall clock.

A schedule file (JSON or YAML) is a list of actions, or ``{"actions": [...]}``::

    - {at: 2.0, action: add_toxic, toxic: {type: latency, attributes: {latency: 500}}, duration: 5}
    - {at: 10, action: disable}
    - {at: 12, action: enable}
    - {at: 15, action: update_toxic, name: bw, toxicity: 0.5, attributes: {rate: 10}}
    - {at: 20, action: remove_toxic, name: bw}
    - {at: 30, action: reset}

``at`` is seconds from the start of the schedule; ``duration`` on ``add_toxic`` removes the
toxic again that much later. ``proxy`` names the target when several proxies run. The whole
schedule is checked before it runs: every ``remove_toxic``/``update_toxic`` must name a toxic
the schedule added earlier (and did not remove or reset since).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from dmsim.errors import ConfigError, Problem, ScenarioError
from dmsim.runtime import Runtime

from ._proxy import FaultProxy
from ._toxics import Toxic, parse_toxic

__all__ = [
    "ActionKind",
    "ProxyAction",
    "load_proxy_schedule",
    "parse_proxy_schedule",
    "run_proxy_schedule",
]


class ActionKind(StrEnum):
    ADD_TOXIC = "add_toxic"
    UPDATE_TOXIC = "update_toxic"
    REMOVE_TOXIC = "remove_toxic"
    ENABLE = "enable"
    DISABLE = "disable"
    RESET = "reset"


@dataclass(frozen=True, slots=True)
class ProxyAction:
    at: float
    action: ActionKind
    proxy: str | None = None
    toxic: Toxic | None = None  # add_toxic
    name: str | None = None  # update_toxic, remove_toxic
    changes: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # update


_KEYS: dict[ActionKind, set[str]] = {
    ActionKind.ADD_TOXIC: {"toxic", "duration"},
    ActionKind.UPDATE_TOXIC: {"name", "toxicity", "attributes"},
    ActionKind.REMOVE_TOXIC: {"name"},
    ActionKind.ENABLE: set(),
    ActionKind.DISABLE: set(),
    ActionKind.RESET: set(),
}


def load_proxy_schedule(path: Path) -> list[ProxyAction]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ScenarioError(Problem("", f"cannot parse: {error}"), source=str(path)) from None
    return parse_proxy_schedule(data, source=str(path))


def parse_proxy_schedule(data: object, *, source: str = "<proxy schedule>") -> list[ProxyAction]:
    """Validated actions in time order (stable for equal times)."""
    if isinstance(data, Mapping) and "actions" in data:
        data = data["actions"]
    if not isinstance(data, list):
        raise ScenarioError(Problem("", "expected a list of actions"), source=source)
    problems: list[Problem] = []
    actions: list[ProxyAction] = []
    for i, item in enumerate(data):
        actions.extend(_parse_action(item, f"actions[{i}]", problems))
    actions.sort(key=lambda a: a.at)
    if not problems:
        problems.extend(_check_names(actions))
    if problems:
        raise ScenarioError(problems, source=source)
    return actions


async def run_proxy_schedule(
    proxies: Sequence[FaultProxy], actions: Sequence[ProxyAction], *, runtime: Runtime
) -> None:
    """Apply each action at its offset from now (the runtime's clock)."""
    by_name = {p.name: p for p in proxies}
    start = runtime.monotonic()
    for action in actions:
        await runtime.sleep_until(start + action.at)
        for proxy in _targets(by_name, action):
            proxy.note(f"schedule.{action.action.value}", None, action.name, action.at)
            await _apply(proxy, action)


async def _apply(proxy: FaultProxy, action: ProxyAction) -> None:
    if action.action is ActionKind.ADD_TOXIC:
        assert action.toxic is not None
        await proxy.add_toxic(action.toxic)
    elif action.action is ActionKind.UPDATE_TOXIC:
        assert action.name is not None
        await proxy.update_toxic(action.name, action.changes)
    elif action.action is ActionKind.REMOVE_TOXIC:
        assert action.name is not None
        await proxy.remove_toxic(action.name)
    elif action.action is ActionKind.RESET:
        await proxy.reset()
    else:
        await proxy.set_enabled(action.action is ActionKind.ENABLE)


def _targets(by_name: Mapping[str, FaultProxy], action: ProxyAction) -> list[FaultProxy]:
    if action.proxy is None:
        return list(by_name.values())
    if action.proxy not in by_name:
        known = ", ".join(sorted(by_name))
        raise ConfigError(
            Problem("proxy", f"schedule names proxy {action.proxy!r}; running: {known}")
        )
    return [by_name[action.proxy]]


def _parse_action(item: object, path: str, problems: list[Problem]) -> list[ProxyAction]:
    if not isinstance(item, Mapping):
        problems.append(Problem(path, "expected an object"))
        return []
    try:
        kind = ActionKind(str(item.get("action")))
    except ValueError:
        known = ", ".join(k.value for k in ActionKind)
        problems.append(
            Problem(f"{path}.action", f"unknown action {item.get('action')!r}; one of {known}")
        )
        return []
    allowed = _KEYS[kind] | {"at", "action", "proxy"}
    problems.extend(
        Problem(f"{path}.{key}", f"not allowed for {kind.value}")
        for key in item
        if key not in allowed
    )
    at = _seconds(item.get("at"), f"{path}.at", problems, required=True)
    proxy = item.get("proxy")
    if proxy is not None and not isinstance(proxy, str):
        problems.append(Problem(f"{path}.proxy", f"must be a proxy name, got {proxy!r}"))
        proxy = None
    if at is None:
        return []
    if kind is ActionKind.ADD_TOXIC:
        return _parse_add(item, path, at, proxy, problems)
    if kind in (ActionKind.UPDATE_TOXIC, ActionKind.REMOVE_TOXIC):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"{path}.name", "the toxic's name is required"))
            return []
        changes = {k: item[k] for k in ("toxicity", "attributes") if k in item}
        return [ProxyAction(at, kind, proxy, name=name, changes=MappingProxyType(changes))]
    return [ProxyAction(at, kind, proxy)]


def _parse_add(
    item: Mapping[str, Any], path: str, at: float, proxy: str | None, problems: list[Problem]
) -> list[ProxyAction]:
    try:
        toxic = parse_toxic(item.get("toxic"), where=f"{path}.toxic")
    except ConfigError as error:
        problems.extend(error.problems)
        return []
    out = [ProxyAction(at, ActionKind.ADD_TOXIC, proxy, toxic=toxic)]
    if "duration" in item:
        duration = _seconds(item["duration"], f"{path}.duration", problems, required=True)
        if duration is not None:
            out.append(ProxyAction(at + duration, ActionKind.REMOVE_TOXIC, proxy, name=toxic.name))
    return out


def _seconds(value: object, path: str, problems: list[Problem], *, required: bool) -> float | None:
    if value is None and not required:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        problems.append(Problem(path, f"must be a number of seconds >= 0, got {value!r}"))
        return None
    return float(value)


def _check_names(actions: Sequence[ProxyAction]) -> list[Problem]:
    """Replay the schedule over toxic names: removals and updates must find their toxic."""
    live: dict[str | None, set[str]] = {}
    problems: list[Problem] = []
    for action in actions:
        names = live.setdefault(action.proxy, set())
        if action.action is ActionKind.ADD_TOXIC:
            assert action.toxic is not None
            if action.toxic.name in names:
                problems.append(
                    Problem(f"t={action.at:g}", f"toxic {action.toxic.name!r} is already present")
                )
            names.add(action.toxic.name)
        elif action.action in (ActionKind.UPDATE_TOXIC, ActionKind.REMOVE_TOXIC):
            if action.name not in names:
                problems.append(
                    Problem(
                        f"t={action.at:g}",
                        f"{action.action.value}: no toxic {action.name!r} at that time",
                    )
                )
            if action.action is ActionKind.REMOVE_TOXIC:
                names.discard(str(action.name))
        elif action.action is ActionKind.RESET:
            for scoped in live.values() if action.proxy is None else [names]:
                scoped.clear()
    return problems
