"""The scenario file's JSON Schema, built from the same tables the loader uses, and
validation that turns jsonschema's findings into path-and-line problems.

The shipped file ``scenario.schema.json`` is :func:`build_schema` written out (a test keeps
them equal); ``dmsim scenario schema`` prints it. Keywords named ``x-message`` are ours: the
message shown when a value fails that subschema (jsonschema ignores unknown keywords).

Fault steps are described in the schema for editors and other tools, but their errors come
from :mod:`dmsim.faults`, which says more precisely what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from dmsim.errors import Problem
from dmsim.faults import DEFAULT_ENVELOPE_KINDS, KINDS, RPC_CODES, RPC_NAMES, ParamSpec

from ._model import CLASSES, COUNTER_KEYS
from ._yaml import child_path, line_of

__all__ = ["build_schema", "schema_problems", "shipped_schema"]

_DURATION_PATTERN = r"^\s*-?(\d+(\.\d+)?(ms|s|m|h|d)\s*)+$"
_SIZE_PATTERN = r"^\d+(\.\d+)?\s*([KMGT]i?B|B)?$"
_FAULT_RESERVED = ("at", "kind", "duration", "id")
_PAYLOAD_FIELDS = {
    "image_width": (16, 8192),
    "image_height": (16, 8192),
    "jpeg_quality": (1, 95),
    "point_count": (1, 10_000_000),
    "images_per_get": (1, 16),
    "tabular_fields": (1, 10_000),
}


def _duration(*, signed: bool = False) -> dict[str, Any]:
    number: dict[str, Any] = {"type": "number"} if signed else {"type": "number", "minimum": 0}
    pattern = _DURATION_PATTERN if signed else _DURATION_PATTERN.replace("-?", "")
    example = "'-1h' or '90s'" if signed else "'90s'"
    return {
        "anyOf": [number, {"type": "string", "pattern": pattern}],
        "x-message": f"expected a duration like {example}",
    }


def _size() -> dict[str, Any]:
    return {
        "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": _SIZE_PATTERN}],
        "x-message": "expected a size like '64MiB' or a number of bytes",
    }


def _object(properties: Mapping[str, Any], *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _param_schema(spec: ParamSpec) -> dict[str, Any]:
    if spec.type in ("duration", "signed_duration"):
        return {
            "$ref": "#/$defs/signed_duration"
            if spec.type == "signed_duration"
            else "#/$defs/duration"
        }
    if spec.type == "size":
        return {"$ref": "#/$defs/size"}
    if spec.type == "strings":
        items: dict[str, Any] = {"enum": list(spec.choices)} if spec.choices else {"type": "string"}
        return {"type": "array", "items": items, "minItems": 1, "uniqueItems": True}
    if spec.type == "changes":
        return {"type": "array", "items": {"$ref": "#/$defs/capture_change"}, "minItems": 1}
    if spec.type == "object":
        return {"type": "object", "minProperties": 1}
    schema: dict[str, Any] = {"type": spec.type}
    if spec.choices:
        schema = {"enum": list(spec.choices)}
    for key, value in (("minimum", spec.minimum), ("maximum", spec.maximum)):
        if value is not None:
            schema[key] = value
    if spec.above is not None:
        schema["exclusiveMinimum"] = spec.above
    return schema


def _fault_schema() -> dict[str, Any]:
    common = {
        "at": {"$ref": "#/$defs/duration"},
        "kind": {"enum": sorted(KINDS)},
        "duration": {"$ref": "#/$defs/duration"},
        "id": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,64}$"},
    }
    per_kind = []
    for kind, spec in sorted(KINDS.items()):
        properties = {**common, **{p.name: _param_schema(p) for p in spec.params}}
        then = _object(properties, required=tuple(p.name for p in spec.params if p.required))
        if spec.window == "required":
            then["required"] = [*then.get("required", []), "duration"]
        elif spec.window == "forbidden":
            then["not"] = {"required": ["duration"]}
        per_kind.append(
            {"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]}, "then": then}
        )
    return {
        "type": "object",
        "required": ["at", "kind"],
        "properties": common,
        "allOf": per_kind,
        "description": "a fault at an absolute simulated time; other keys are its parameters",
    }


def _expectations_schema() -> dict[str, Any]:
    bound = _object(
        {"min": {"type": "integer", "minimum": 0}, "max": {"type": "integer", "minimum": 0}}
    )
    bound["minProperties"] = 1
    return _object(
        {
            "allowed": {"type": "array", "items": {"enum": list(CLASSES)}, "uniqueItems": True},
            "time_to_cloud_p99": {"$ref": "#/$defs/duration"},
            "late_after": {"$ref": "#/$defs/duration"},
            "drain_within": {"$ref": "#/$defs/duration"},
            "drain_to_files": {"type": "integer", "minimum": 0},
            "disk_high_water": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "min_delivered": {"type": "integer", "minimum": 0},
            "max_skipped": {"type": "integer", "minimum": 0},
            "max_capture_gap": {"$ref": "#/$defs/duration"},
            "counts": {
                "type": "object",
                "propertyNames": {"enum": list(COUNTER_KEYS)},
                "additionalProperties": bound,
            },
        }
    )


def _envelope_schema() -> dict[str, Any]:
    return _object(
        {
            "kinds": {"type": "array", "items": {"enum": sorted(KINDS)}, "uniqueItems": True},
            "max_faults": {"type": "integer", "minimum": 0, "maximum": 100},
            "min_window": {"$ref": "#/$defs/duration"},
            "max_window": {"$ref": "#/$defs/duration"},
            "max_restart_after": {"$ref": "#/$defs/duration"},
            "max_clock_step": {"$ref": "#/$defs/duration"},
            "max_latency": {"$ref": "#/$defs/duration"},
            "max_loss": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "max_disk_fill": {"$ref": "#/$defs/size"},
            "rpc_codes": {"type": "array", "items": {"enum": list(RPC_CODES)}, "minItems": 1},
            "rpcs": {
                "type": "array",
                "items": {"enum": list(RPC_NAMES)},
                "minItems": 1,
                "uniqueItems": True,
            },
            "quiet_tail": {"$ref": "#/$defs/duration"},
        }
    )


def build_schema() -> dict[str, Any]:
    """The scenario file's JSON Schema (draft 2020-12)."""
    from dmsim.net import PROFILES  # here: importing dmsim.net is slow and rarely needed

    faults = {"type": "array", "items": {"$ref": "#/$defs/fault"}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dmsim scenario",
        "description": "A machine, its world, a fault schedule and what must hold.",
        "type": "object",
        "required": ["name", "duration", "machine"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
            "description": {"type": "string"},
            "seed": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
            "epoch": {
                "type": "string",
                "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$",
                "x-message": "expected an ISO-8601 UTC time like '2026-01-01T00:00:00Z'",
            },
            "duration": {"$ref": "#/$defs/duration"},
            "sample_every": {"$ref": "#/$defs/duration"},
            "machine": {
                "type": "object",
                "description": "a Viam machine config, or {path: FILE} relative to the scenario",
            },
            "host": _object({"cpu_count": {"type": "integer", "minimum": 1, "maximum": 1024}}),
            "disk": _object(
                {
                    "capacity": {"$ref": "#/$defs/size"},
                    "initial_fill": {"$ref": "#/$defs/size"},
                    "block_size": {"$ref": "#/$defs/size"},
                    "preload": {
                        "type": "string",
                        "description": "a capture directory (relative to the scenario) copied "
                        "into the machine's capture directory before it boots",
                    },
                }
            ),
            "network": _object(
                {"profile": {"enum": sorted(PROFILES)}, "trace": {"type": "string"}}
            ),
            "cloud": _object(
                {
                    "capacity": {"$ref": "#/$defs/size"},
                    "max_request_bytes": {"$ref": "#/$defs/size"},
                    "faults": faults,
                }
            ),
            "payload": _object(
                {
                    **{
                        name: {"type": "integer", "minimum": low, "maximum": high}
                        for name, (low, high) in _PAYLOAD_FIELDS.items()
                    },
                    "pcd_format": {"enum": ["binary", "ascii"]},
                }
            ),
            "file_writers": {
                "type": "array",
                "description": "other programs writing files into additional_sync_paths",
                "items": _object(
                    {
                        "dir": {"type": "string"},
                        "every": {"$ref": "#/$defs/duration"},
                        "size": {"$ref": "#/$defs/size"},
                        "write_for": {"$ref": "#/$defs/duration"},
                        "extension": {"type": "string", "pattern": r"^\.[A-Za-z0-9_-]+$"},
                    },
                    required=("dir", "every", "size"),
                ),
            },
            "faults": faults,
            "expectations": _expectations_schema(),
            "fuzz": _object({"envelope": _envelope_schema()}),
        },
        "$defs": {
            "duration": _duration(),
            "signed_duration": _duration(signed=True),
            "size": _size(),
            "fault": _fault_schema(),
            "capture_change": _object(
                {
                    "resource": {"type": "string", "minLength": 1},
                    "method": {"type": "string", "minLength": 1},
                    "additional_params": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                    },
                    "capture_frequency_hz": {"type": "number", "minimum": 0},
                    "disabled": {"type": "boolean"},
                },
                required=("resource", "method"),
            ),
        },
        "x-default-envelope-kinds": sorted(DEFAULT_ENVELOPE_KINDS),
    }


@cache
def shipped_schema() -> dict[str, Any]:
    """The schema file shipped with the package."""
    text = resources.files("dmsim.scenario").joinpath("scenario.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _path(parts: Any) -> str:
    path = ""
    for part in parts:
        path = child_path(path, part)
    return path


def _message(error: ValidationError) -> tuple[str, str]:
    """(path, message) for one jsonschema error, in our words where we can."""
    path = _path(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    if "x-message" in schema:
        return path, f"{schema['x-message']}, got {instance!r}"
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in instance]
        return child_path(path, missing[0]), "is required"
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        extra = sorted(set(instance) - set(known))
        return child_path(path, extra[0]), f"unknown key (known: {', '.join(known)})"
    if error.validator == "propertyNames":
        return path, f"unknown key {error.instance!r}"
    if error.validator == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return path, f"expected one of {choices}; got {instance!r}"
    if error.validator == "type":
        return path, f"expected {error.validator_value}, got {instance!r}"
    return path, error.message


def schema_problems(document: Any, lines: Mapping[str, int]) -> list[Problem]:
    """Every schema violation in ``document`` except inside fault lists (see module doc)."""
    validator = Draft202012Validator(shipped_schema())
    problems: dict[tuple[str, str], Problem] = {}
    for error in validator.iter_errors(document):
        parts = list(error.absolute_path)
        if parts[:1] == ["faults"] or parts[:2] == ["cloud", "faults"]:
            continue
        path, message = _message(error)
        problems.setdefault((path, message), Problem(path, message, line=line_of(lines, path)))
    return sorted(problems.values(), key=lambda p: (p.line or 0, p.path))
