"""``dmsim capture inspect|verify|recover|export``: capture-file tools on the local disk.

Exit status: 0 done and nothing wrong; 1 done but something is damaged (inspect or verify found
a problem, recover could not settle a file, export skipped damaged parts); 2 bad input (a
missing path, a directory that is not one, an unwritable output), printed without a traceback.
141 (as if killed by SIGPIPE, like other Unix tools) when the reader of stdout went away, as in
``dmsim capture inspect DIR | head``, with nothing printed. ``--json`` prints one JSON document
on stdout instead of text. The work is imported inside the handlers: ``register`` runs for
every ``dmsim`` command, which should not pay for protobuf and mcap.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dmsim.errors import StorageError

if TYPE_CHECKING:
    from ._inspect import FileReport

__all__ = ["register"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def register(subparsers: Any) -> None:
    """Add ``capture`` and its subcommands to the ``dmsim`` parser."""
    capture = subparsers.add_parser("capture", help="capture-file (.prog/.capture) tools")
    capture.set_defaults(handler=lambda _args: _usage(capture))
    commands = capture.add_subparsers(title="capture commands", metavar="COMMAND")

    inspect = commands.add_parser(
        "inspect",
        help="summarize capture files",
        description="Per file: component, method, data type, tags, mime type, readings, "
        "first/last time_requested, size and torn-tail bytes. Exit 1 if any file has a "
        "problem.",
    )
    inspect.add_argument("path", metavar="PATH", help="a capture file or a directory")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(handler=_guard(_inspect))

    verify = commands.add_parser(
        "verify",
        help="check every capture file is intact",
        description="Exit 0 only if every file under DIR is intact (or there is none, which "
        "is said plainly); list every problem of every file.",
    )
    verify.add_argument("dir", metavar="DIR", help="a capture directory")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=_guard(_verify))

    recover = commands.add_parser(
        "recover",
        help="run start-up recovery of orphaned .prog files offline",
        description="Turn every .prog under DIR into a .capture (readable prefix kept, torn "
        "tail dropped and counted) or move it to DIR/failed/ with the reason. Only run it "
        "while nothing is writing to DIR.",
    )
    recover.add_argument("dir", metavar="DIR", help="a capture directory")
    recover.add_argument("--json", action="store_true", help="print JSON")
    recover.set_defaults(handler=_guard(_recover))

    export = commands.add_parser(
        "export",
        help="export capture files to MCAP (opens in Foxglove)",
        description="One channel per collector (component, method, additional_params): "
        "tabular readings as JSON with a JSON schema, images as foxglove.CompressedImage, "
        "other binary data as attachments; chunk and data CRCs on.",
    )
    export.add_argument("dir", metavar="DIR", help="a capture directory or file")
    export.add_argument("--format", choices=["mcap"], default="mcap", help="output format")
    export.add_argument("-o", "--output", required=True, metavar="OUT", help="output file")
    export.add_argument("--json", action="store_true", help="print JSON")
    export.set_defaults(handler=_guard(_export))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _bad_input(message: str) -> int:
    print(f"dmsim capture: error: {message}", file=sys.stderr)
    return 2


def _guard(command: Any) -> Any:
    """Bad paths and unreadable disks are the user's input: exit 2, no traceback. A closed
    stdout is not: ``dmsim.cli.main`` ends quietly with 141."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(command(args))
        except StorageError as error:
            return _bad_input(str(error))
        except BrokenPipeError:
            raise
        except OSError as error:
            reason = error.strerror or str(error)
            return _bad_input(f"{error.filename}: {reason}" if error.filename else reason)

    return run


def _need_dir(path: str) -> str:
    absolute = os.path.abspath(path)
    if not os.path.isdir(absolute):
        raise StorageError(f"{path}: not a directory")
    return absolute


def _when(ns: int | None) -> str:
    if ns is None:
        return "-"
    try:
        return (_EPOCH + timedelta(microseconds=ns // 1000)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except OverflowError:
        return f"{ns} ns"


def _print_report(report: FileReport) -> None:
    params = ", ".join(f"{k}={v}" for k, v in report.method_parameters) or "-"
    print(report.path)
    print(f"  component  {report.component_type or '-'} {report.component_name or '-'}")
    print(f"  method     {report.method_name or '-'} ({params})")
    print(f"  data type  {report.data_type or '-'}  mime {report.mime_type or '-'}  "
          f"extension {report.file_extension or '-'}")  # fmt: skip
    print(f"  tags       {', '.join(report.tags) or '-'}")
    print(f"  readings   {report.readings}  first {_when(report.first_time_requested_ns)}  "
          f"last {_when(report.last_time_requested_ns)}")  # fmt: skip
    print(f"  size       {report.size_bytes} B  torn tail {report.torn_tail_bytes} B")
    if report.creation is not None:
        begun = report.creation.monotonic_ns / 1e9
        print(f"  begun      {begun:.6f} s on monotonic clock {report.creation.clock!r}")
    for problem in report.problems:
        print(f"  PROBLEM    {problem}")


def _inspect(args: argparse.Namespace) -> int:
    from ._inspect import inspect_path
    from ._realfs import RealFS

    path = os.path.abspath(args.path)
    reports = list(inspect_path(RealFS(), path))
    if args.json:
        print(json.dumps([r.to_json() for r in reports], indent=2))
    else:
        for report in reports:
            _print_report(report)
        print(f"{len(reports)} capture file(s)")
    return 1 if any(r.problems for r in reports) else 0


def _verify(args: argparse.Namespace) -> int:
    from ._inspect import verify_dir
    from ._realfs import RealFS

    root = _need_dir(args.dir)
    report = verify_dir(RealFS(), root)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    elif report.files_checked == 0:
        print(f"no capture files found in {root} ({report.quarantined_files} in failed/)")
    else:
        for problem in report.problems:
            print(f"PROBLEM {problem}")
        for path in report.open_files:
            print(f"note: {path} is not completed (open, or left by a crash: run recover)")
        verdict = "intact" if report.ok else f"{len(report.problems)} problem(s)"
        print(f"{report.files_checked} file(s), {report.readings} reading(s), "
              f"{report.quarantined_files} in failed/: {verdict}")  # fmt: skip
    return 0 if report.ok else 1


def _recover(args: argparse.Namespace) -> int:
    from ._lock import directory_lock
    from ._realfs import RealFS
    from ._recovery import recover_capture_dir

    directory = _need_dir(args.dir)
    with directory_lock(directory, purpose="recover it"):
        report = recover_capture_dir(RealFS(), directory)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 1 if report.errors else 0


def _export(args: argparse.Namespace) -> int:
    from ._mcap_export import export_mcap
    from ._naming import CAPTURE_EXT, PROG_EXT
    from ._realfs import RealFS

    source = os.path.abspath(args.dir)
    if not os.path.exists(source):
        return _bad_input(f"{args.dir}: no such file or directory")
    out = os.path.abspath(args.output)
    if not os.path.isdir(os.path.dirname(out)):
        return _bad_input(f"{args.output}: its directory does not exist")
    if os.path.isdir(out):
        return _bad_input(f"{args.output}: is a directory")
    if out.endswith((CAPTURE_EXT, PROG_EXT)):
        # It would replace captured data, or be taken for it by sync and recovery.
        return _bad_input(f"{args.output}: names a capture file (.capture/.prog); use .mcap")
    report = export_mcap(RealFS(), source, out)
    if args.json:
        print(json.dumps({"output": out, **report.to_json()}, indent=2))
    else:
        for problem in report.problems:
            print(f"PROBLEM {problem}: skipped (readings before it exported)")
        topics = ", ".join(report.topics) or "-"
        print(f"wrote {out}: {report.files} file(s), {report.messages} message(s), "
              f"{report.attachments} attachment(s), topics {topics}, "
              f"{len(report.problems)} damaged part(s) skipped")  # fmt: skip
    return 1 if report.problems else 0
