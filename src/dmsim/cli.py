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

# The module that registers each command (``register(subparsers)`` adds its commands with
# ``parser.set_defaults(handler=...)``). Only the module of the command being run is imported:
# loading them all (the cloud, the network and simulation stacks) takes seconds on a Pi, which
# `dmsim capture verify` or `dmsim config check` should not pay. A test pins this table to what
# the modules register.
COMMAND_MODULES: dict[str, str] = {
    "config": "dmsim.config.cli",
    "capture": "dmsim.storage.cli",
    "run": "dmsim.scenario.cli",
    "judge": "dmsim.scenario.cli",
    "fuzz": "dmsim.scenario.cli",
    "scenario": "dmsim.scenario.cli",
    "proxy": "dmsim.net.cli",
    "cloud": "dmsim.cloud.cli",
    "simulate": "dmsim.scenario.simulate_cli",
    "machine": "dmsim.service.cli",
    "replay": "dmsim.replay.cli",
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with only its command's module when ``argv`` names a known
    command, with every command otherwise (to list them all, or to say which are valid).
    Without ``argv``, every command."""
    parser = argparse.ArgumentParser(
        prog="dmsim",
        description="Capture, store and sync robot data the Viam way, and prove it under faults.",
    )
    parser.add_argument("--version", action="version", version=f"dmsim {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    command = _command_word(argv or ())
    if command in COMMAND_MODULES:
        modules = [COMMAND_MODULES[command]]
    else:
        modules = list(dict.fromkeys(COMMAND_MODULES.values()))
    for module_name in modules:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _command_word(argv: Sequence[str]) -> str | None:
    # dmsim's own options take no value, so the first word that is not one is the command;
    # help asked for before it is dmsim's own help, which lists every command.
    for word in argv:
        if word in ("-h", "--help"):
            return None
        if not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        status = int(handler(args))
        sys.stdout.flush()  # a closed stdout must break here, not at exit where none can catch it
        return status
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
