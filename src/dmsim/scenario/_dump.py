"""A scenario back to a self-contained YAML file (what ``dmsim fuzz`` writes for a minimal
failing schedule): the machine config inlined, paths made absolute, every fault at its
absolute time. Loading the text gives back an equal scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from dmsim.faults import format_duration, format_size

from ._envelope import envelope_document
from ._model import DEFAULT_ALLOWED, CloudSpec, DiskSpec, Expectations, HostSpec, Scenario

__all__ = ["dump_scenario", "scenario_to_document"]


def scenario_to_document(scenario: Scenario) -> dict[str, Any]:
    """The scenario-file mapping for ``scenario`` (defaults left out)."""
    doc: dict[str, Any] = {"name": scenario.name}
    if scenario.description:
        doc["description"] = scenario.description
    doc["seed"] = scenario.seed
    doc["epoch"] = scenario.epoch
    doc["duration"] = format_duration(scenario.duration_s)
    doc["sample_every"] = format_duration(scenario.sample_every_s)
    if scenario.host != HostSpec():
        doc["host"] = {"cpu_count": scenario.host.cpu_count}
    if scenario.disk != DiskSpec():
        doc["disk"] = {
            "capacity": format_size(scenario.disk.capacity_bytes),
            "initial_fill": format_size(scenario.disk.initial_fill_bytes),
            "block_size": scenario.disk.block_size,
        }
        if scenario.disk.preload is not None:
            doc["disk"]["preload"] = str(scenario.disk.preload)
    network: dict[str, Any] = {"profile": scenario.network.profile}
    if scenario.network.trace is not None:
        network["trace"] = str(scenario.network.trace)
    doc["network"] = network
    if scenario.cloud != CloudSpec():
        doc["cloud"] = _cloud(scenario.cloud)
    if scenario.payload:
        doc["payload"] = dict(scenario.payload)
    if scenario.file_writers:
        doc["file_writers"] = [
            {
                "dir": w.directory,
                "every": format_duration(w.every_s),
                "size": format_size(w.size_bytes),
                "write_for": format_duration(w.write_for_s),
                "extension": w.extension,
            }
            for w in scenario.file_writers
        ]
    doc["faults"] = scenario.faults.to_document()
    doc["expectations"] = _expectations(scenario.expectations)
    envelope = envelope_document(
        scenario.envelope, drain_within_s=scenario.expectations.drain_within_s
    )
    if envelope:
        doc["fuzz"] = {"envelope": envelope}
    doc["machine"] = _plain(scenario.machine_document)
    return doc


def _cloud(cloud: CloudSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if cloud.capacity_bytes is not None:
        doc["capacity"] = format_size(cloud.capacity_bytes)
    if cloud.max_request_bytes is not None:
        doc["max_request_bytes"] = format_size(cloud.max_request_bytes)
    return doc


def _expectations(expect: Expectations) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if expect.allowed != DEFAULT_ALLOWED:
        doc["allowed"] = sorted(expect.allowed)
    for key, value in (
        ("time_to_cloud_p99", expect.time_to_cloud_p99_s),
        ("late_after", expect.late_after_s),
        ("drain_within", expect.drain_within_s),
        ("max_capture_gap", expect.max_capture_gap_s),
    ):
        if value is not None:
            doc[key] = format_duration(value)
    if expect.drain_to_files is not None:
        doc["drain_to_files"] = expect.drain_to_files
    for key, number in (
        ("disk_high_water", expect.disk_high_water),
        ("min_delivered", expect.min_delivered),
        ("max_skipped", expect.max_skipped),
    ):
        if number is not None:
            doc[key] = number
    if expect.counts:
        doc["counts"] = {
            key: {
                name: value
                for name, value in (("min", bound.minimum), ("max", bound.maximum))
                if value is not None
            }
            for key, bound in sorted(expect.counts.items())
        }
    return doc


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Block style; lists inside lists indented like people write them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: ARG002 - PyYAML passes it by keyword
        super().increase_indent(flow, False)


def dump_scenario(scenario: Scenario, *, header: str = "") -> str:
    """YAML text for ``scenario``; ``header`` lines become ``#`` comments on top."""
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = yaml.dump(
        scenario_to_document(scenario),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return comments + body
