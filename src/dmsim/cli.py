"""The ``dmsim`` command. Each area registers its own subcommands; this module only wires them.

A command handler returns the process exit status. Errors in user input are printed as
their problems (exit 2), never as tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from . import __version__
from .errors import DmsimError, _InputError

# Modules that define ``register(subparsers)``; each adds its commands with
# ``parser.set_defaults(handler=...)``.
COMMAND_MODULES: tuple[str, ...] = (
    "dmsim.config.cli",
    "dmsim.storage.cli",
    "dmsim.scenario.cli",
    "dmsim.net.cli",
    "dmsim.cloud.cli",
    "dmsim.scenario.simulate_cli",
    "dmsim.service.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmsim",
        description="Capture, store and sync robot data the Viam way, and prove it under faults.",
    )
    parser.add_argument("--version", action="version", version=f"dmsim {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except _InputError as error:
        print(error, file=sys.stderr)
        return 2
    except DmsimError as error:
        print(f"dmsim: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dmsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`dmsim ... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
