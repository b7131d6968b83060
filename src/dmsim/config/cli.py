"""``dmsim config check FILE [--json]``: validate a machine config, print it with defaults.

Human output is the effective config as YAML (every default written out), followed by the
collectors it runs as comments; ``--json`` prints the effective config as JSON, which
``dmsim config check`` accepts again. Warnings go to stderr (exit 0); problems go to stderr
with exit status 2, through the CLI's handling of :class:`~dmsim.errors.ConfigError`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from . import CollectorSpec, collector_specs, load_machine_config, to_effective_dict

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``config`` and its subcommands to the ``dmsim`` parser."""
    config = subparsers.add_parser("config", help="machine config (Viam JSON) tools")
    config.set_defaults(handler=lambda _args: _usage(config))
    commands = config.add_subparsers(title="config commands", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="validate a machine config and print it with defaults filled in",
        description="Validate a Viam machine config. Prints the effective config (defaults "
        "filled in) and exits 0, or prints every problem and exits 2. Warnings go to stderr.",
    )
    check.add_argument("file", metavar="FILE", help="the machine config JSON file")
    check.add_argument("--json", action="store_true", help="print the effective config as JSON")
    check.set_defaults(handler=_check)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _check(args: argparse.Namespace) -> int:
    config = load_machine_config(args.file)
    for warning in config.warnings:
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    effective = to_effective_dict(config)
    if args.json:
        print(json.dumps(effective, indent=2))
        return 0
    collectors = collector_specs(config)
    print(f"# {args.file}: valid, {len(collectors)} collector(s), "
          f"{len(config.warnings)} warning(s)")  # fmt: skip
    print(yaml.safe_dump(effective, sort_keys=False, allow_unicode=True), end="")
    if collectors:
        print("# collectors (resource, method, params, rate, type, tags):")
    for spec in collectors:
        print(f"#   {_describe(spec)}")
    return 0


def _describe(spec: CollectorSpec) -> str:
    params = ",".join(f"{k}={v}" for k, v in spec.additional_params.items())
    tags = ",".join(spec.tags) or "-"
    kind = f"{spec.capture_type} {spec.file_extension}"
    return (
        f"{spec.resource} {spec.method} [{params}] {spec.capture_frequency_hz:g} Hz, "
        f"{kind}, tags {tags}"
    )
