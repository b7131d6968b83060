"""``dmsim cloud serve | query | export | sql``: the fake cloud on the command line.

``serve`` prints its bound addresses, one per line, then ``ready``::

    grpc: 127.0.0.1:41234
    http: http://127.0.0.1:41235/
    tls-cert: /data/cloud-cert.pem
    ready

One server per data directory: ``serve`` holds a lock on it (see :mod:`dmsim.storage._lock`)
and a second one is refused, naming the holder's pid. That, a port that cannot be bound, or a
data directory that cannot be used is a message and exit status 2, never a traceback.

A ``restart`` fault (injected over the HTTP API) makes the serving process exit at once with
status 75, committed data intact. With ``--restart-on-crash`` a supervising process starts
the server as a child and starts it again on the same ports whenever it exits with 75;
SIGTERM/SIGINT stop both cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from dmsim.errors import CloudError
from dmsim.runtime import RealRuntime
from dmsim.storage._lock import DirectoryBusy, directory_lock

from ._core import CloudCore
from ._host import CloudHost
from ._records import CaptureFilter, StoredItem, iso_from_ns, parse_count, parse_time
from ._serve import CloudServer
from ._server import api_key_problem
from ._tls import ensure_certificate
from ._validate import CloudLimits

__all__ = ["CRASH_EXIT_STATUS", "register"]

#: Exit status of a server that a ``restart`` fault killed (EX_TEMPFAIL).
CRASH_EXIT_STATUS = 75
_DEFAULTS = CloudLimits()


def register(subparsers: Any) -> None:
    cloud = subparsers.add_parser("cloud", help="the fake cloud (DataSyncService)")
    commands = cloud.add_subparsers(title="cloud commands", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="serve DataSyncService over gRPC (+ HTTP API)")
    serve.add_argument("--data", required=True, type=Path, help="data directory")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=0, help="gRPC port (0 = ephemeral)")
    serve.add_argument("--http-port", type=int, default=None, help="HTTP API/web page port")
    serve.add_argument("--tls", action="store_true", help="TLS with a self-signed certificate")
    serve.add_argument("--api-key", default=None, help="require this API key")
    serve.add_argument("--capacity-bytes", type=int, default=None, help="storage capacity")
    serve.add_argument("--max-message-bytes", type=int, default=_DEFAULTS.max_message_bytes)
    serve.add_argument("--max-stream-bytes", type=int, default=_DEFAULTS.max_stream_bytes)
    serve.add_argument(
        "--restart-on-crash",
        action="store_true",
        help="supervise: start the server again when a restart fault kills it",
    )
    serve.set_defaults(handler=_serve)

    for name, helptext in (("query", "list stored items"), ("export", "export stored items")):
        sub = commands.add_parser(name, help=helptext)
        sub.add_argument("--data", required=True, type=Path, help="data directory")
        _add_filters(sub)
        if name == "query":
            sub.add_argument(
                "--json",
                action="store_true",
                help="one JSON object per item (default: a line of text per item, with"
                " non-printable characters escaped)",
            )
            sub.set_defaults(handler=_query)
        else:
            sub.add_argument("--format", required=True, choices=("jsonl", "csv"))
            sub.set_defaults(handler=_export)

    sequences = commands.add_parser(
        "sequences", help="list the sequences created (CreateSequence), oldest first"
    )
    sequences.add_argument("--data", required=True, type=Path, help="data directory")
    sequences.add_argument("--json", action="store_true", help="one JSON object per sequence")
    sequences.set_defaults(handler=_sequences)

    sql = commands.add_parser("sql", help="read-only SQL over the `readings` view")
    sql.add_argument("--data", required=True, type=Path, help="data directory")
    sql.add_argument("statement")
    sql.set_defaults(handler=_sql)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--part", default=None)
    parser.add_argument("--component", default=None, help="component name")
    parser.add_argument("--component-type", default=None)
    parser.add_argument("--method", default=None)
    parser.add_argument("--data-type", default=None, choices=("tabular", "binary", "file"))
    parser.add_argument("--tag", action="append", default=[], help="repeatable; all must match")
    parser.add_argument("--since", default=None, metavar="TIME", help="captured at or after")
    parser.add_argument("--until", default=None, metavar="TIME", help="captured before")
    parser.add_argument("--limit", default=None, help="at most this many items")
    parser.epilog = (
        "TIME is seconds since the epoch as a plain number (so 20231114 is seconds, not a"
        " date) or ISO-8601 with a dashed date (2023-11-14, 2023-11-14T22:13:20Z; no zone ="
        " UTC), from 1970-01-01 to 2262-04-11."
    )


def _filter(args: argparse.Namespace) -> CaptureFilter:
    return CaptureFilter(
        part_id=args.part,
        component_type=args.component_type,
        component_name=args.component,
        method_name=args.method,
        data_type=args.data_type,
        tags=tuple(args.tag),
        since=None if args.since is None else parse_time(args.since, "--since"),
        until=None if args.until is None else parse_time(args.until, "--until"),
        limit=None if args.limit is None else parse_count(args.limit, "--limit"),
    )


def _input_error(error: CloudError) -> int:
    print(f"dmsim cloud: {error}", file=sys.stderr)
    return 2 if error.code in ("INVALID_ARGUMENT", "NOT_FOUND") else 1


def _open_read_only(data: Path) -> CloudCore:
    return CloudCore(clock=lambda: 0.0, data_dir=str(data.resolve()), read_only=True)


def _query(args: argparse.Namespace) -> int:
    try:
        query = _filter(args)
        core = _open_read_only(args.data)
    except CloudError as error:
        return _input_error(error)
    try:
        for item in core.query(query):
            print(json.dumps(item.to_json(), sort_keys=True) if args.json else _line(item))
    finally:
        core.close()
    return 0


def _line(item: StoredItem) -> str:
    """One item as a line of text, escaped by :func:`_printable` (uploaders chose most of it)."""
    if item.kind == "tabular":
        what = item.data_json or ""
    else:
        what = f"{item.file_name or item.mime_type or ''} {item.size} B sha256={item.blob_sha256}"
    component = f"{item.component_type}/{item.component_name}/{item.method_name}"
    line = f"{iso_from_ns(item.captured_ns)}  {item.part_id}  {component}  {item.kind}  {what}"
    return _printable(line)


def _printable(text: str) -> str:
    """``text`` with each non-printable character (newline, terminal escape, bidirectional
    control, …) written as its Python escape, so that a stored name cannot forge output lines
    or drive the terminal; a backslash is doubled, so an escape always means what it says."""
    return "".join(c if c.isprintable() and c != "\\" else repr(c)[1:-1] for c in text)


def _sequences(args: argparse.Namespace) -> int:
    try:
        core = _open_read_only(args.data)
    except CloudError as error:
        return _input_error(error)
    try:
        for seq in core.sequences():
            document = {
                "id": seq.sequence_id,
                "part_id": seq.part_id,
                "start_time": iso_from_ns(seq.start_ns),
                "end_time": iso_from_ns(seq.end_ns),
                "resources": [{"resource_name": r, "method_name": m} for r, m in seq.resources],
                "sequence_tags": list(seq.tags),
            }
            if args.json:
                print(json.dumps(document, sort_keys=True))
                continue
            what = ", ".join(f"{r}/{m}" for r, m in seq.resources)
            tags = ",".join(seq.tags) or "-"
            line = (
                f"{document['start_time']} → {document['end_time']}  {seq.part_id}  {tags}  {what}"
            )
            print(_printable(line))
    finally:
        core.close()
    return 0


def _export(args: argparse.Namespace) -> int:
    try:
        query = _filter(args)
        core = _open_read_only(args.data)
    except CloudError as error:
        return _input_error(error)
    try:
        core.export(sys.stdout, format=args.format, query=query)
    finally:
        core.close()
    return 0


def _sql(args: argparse.Namespace) -> int:
    try:
        core = _open_read_only(args.data)
    except CloudError as error:
        return _input_error(error)
    try:
        result = core.sql(args.statement)
    except CloudError as error:
        return _input_error(error)
    finally:
        core.close()
    print(json.dumps(list(result.columns)))
    for row in result.rows:
        print(json.dumps(list(row)))
    if result.truncated:
        print(f"dmsim cloud: output truncated at {len(result.rows)} rows", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    for name in ("port", "http_port"):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 65535:
            return _refuse(f"--{name.replace('_', '-')} {value}: not a port")
    problem = None if args.api_key is None else api_key_problem(args.api_key)
    if problem is not None:
        return _refuse(f"--api-key: {problem}")
    try:
        limits = CloudLimits(
            max_message_bytes=args.max_message_bytes, max_stream_bytes=args.max_stream_bytes
        )
    except ValueError as error:
        return _refuse(str(error))
    if args.restart_on_crash:
        return _supervise(args)
    data = args.data.resolve()
    if data.exists() and not data.is_dir():
        return _refuse(f"--data {data}: not a directory")
    with contextlib.ExitStack() as held:
        # One server per data directory: a second one would clean up the first one's blobs
        # in flight. Held until the process exits (the kernel releases it if it dies).
        try:
            held.enter_context(directory_lock(str(data), purpose="serve it"))
        except DirectoryBusy as error:
            return _refuse(str(error))
        except OSError as error:
            return _refuse(f"--data {data}: {_reason(error)}")
        runtime = RealRuntime()
        return runtime.run_main(_run_server(args, data, runtime, limits))


def _refuse(problem: str) -> int:
    """A problem with the command line or what it names (data directory, ports): exit 2."""
    print(f"dmsim cloud serve: {problem}", file=sys.stderr)
    return 2


def _reason(error: OSError | sqlite3.Error) -> str:
    if isinstance(error, sqlite3.Error):
        return f"cloud.sqlite3: {error}"
    return f"{error.filename}: {error.strerror}" if error.filename else str(error.strerror)


async def _run_server(
    args: argparse.Namespace, data: Path, runtime: RealRuntime, limits: CloudLimits
) -> int:
    try:
        core = CloudCore(
            clock=lambda: runtime.wall_ns() / 1e9,
            data_dir=str(data),
            limits=limits,
            capacity_bytes=args.capacity_bytes,
        )
    except (OSError, sqlite3.Error) as error:
        return _refuse(f"--data {data}: {_reason(error)}")
    try:
        tls = ensure_certificate(data, now_ns=runtime.wall_ns()) if args.tls else None
    except OSError as error:
        core.close()
        return _refuse(f"--data {data}: {_reason(error)}")
    server = CloudServer(
        CloudHost(core, runtime=runtime),
        address=args.host,
        port=args.port,
        http_port=args.http_port,
        tls=tls,
        api_key=args.api_key,
        crash=_die,
    )
    try:
        await server.start()
    except OSError as error:
        await server.stop()
        return _refuse(_reason(error))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"grpc: {args.host}:{server.port}")
    if server.http_port is not None:
        print(f"http: http://{args.host}:{server.http_port}/")
    if tls is not None:
        print(f"tls-cert: {tls.cert_path}")
    print("ready", flush=True)
    await stop.wait()
    await server.stop()
    return 0


def _die() -> None:
    print("dmsim cloud: restart fault: the server process exits now", file=sys.stderr, flush=True)
    os._exit(CRASH_EXIT_STATUS)


def _supervise(args: argparse.Namespace) -> int:
    """Run the server as a child; start it again on the same ports when a fault kills it."""
    argv = _child_argv(args)
    ports: dict[str, int] = {}
    stopping = False
    child: subprocess.Popen[str] | None = None

    def forward(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        command = [sys.executable, "-m", "dmsim.cli", *_with_ports(argv, ports)]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        if stopping:  # a signal arrived while we were starting it
            child.terminate()
        assert child.stdout is not None
        for line in child.stdout:
            _learn_port(line, ports)
            print(line, end="", flush=True)
        status = child.wait()
        if stopping or status != CRASH_EXIT_STATUS:
            return 0 if stopping else status
        print("restarting", flush=True)


def _child_argv(args: argparse.Namespace) -> list[str]:
    argv = [
        "cloud",
        "serve",
        "--data",
        str(args.data),
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    options = {
        "--http-port": args.http_port,
        "--api-key": args.api_key,
        "--capacity-bytes": args.capacity_bytes,
        "--max-message-bytes": args.max_message_bytes,
        "--max-stream-bytes": args.max_stream_bytes,
    }
    for flag, value in options.items():
        if value is not None:
            argv += [flag, str(value)]
    return [*argv, "--tls"] if args.tls else argv


def _learn_port(line: str, ports: dict[str, int]) -> None:
    name, _, address = line.partition(": ")
    if name in ("grpc", "http"):
        ports[name] = int(address.strip().rstrip("/").rsplit(":", 1)[1])


def _with_ports(argv: list[str], ports: dict[str, int]) -> list[str]:
    """The child's arguments with ephemeral ports pinned to what the first child bound."""
    out = list(argv)
    for name, flag in (("grpc", "--port"), ("http", "--http-port")):
        if name in ports:
            out += [flag, str(ports[name])]  # the last occurrence wins in argparse
    return out
