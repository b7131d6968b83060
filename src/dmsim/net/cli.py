"""``dmsim proxy``: run a TCP fault proxy, with its HTTP control API and a fault schedule."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import RealRuntime

from ._api import ProxyApi
from ._proxy import FaultProxy, parse_address
from ._schedule import ProxyAction, load_proxy_schedule, run_proxy_schedule

__all__ = ["register"]

T = TypeVar("T")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "proxy",
        help="run a TCP fault proxy (Toxiproxy-style toxics, seeded)",
        description=(
            "Forward TCP from --listen to --upstream, injecting toxics added over the HTTP API "
            "(--api, Toxiproxy's JSON shape) or from a --schedule file. Prints the bound "
            "addresses; stops cleanly on SIGINT or SIGTERM."
        ),
    )
    parser.add_argument("--listen", required=True, metavar="ADDR", help="HOST:PORT (port 0: any)")
    parser.add_argument("--upstream", required=True, metavar="ADDR", help="HOST:PORT to forward to")
    parser.add_argument("--api", metavar="ADDR", help="HOST:PORT for the HTTP control API")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random decision")
    parser.add_argument("--schedule", type=Path, metavar="FILE", help="fault schedule (JSON/YAML)")
    parser.add_argument("--name", default="dmsim", help="proxy name in the API (default dmsim)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    schedule = load_proxy_schedule(args.schedule) if args.schedule else []
    api = parse_address(args.api, what="--api") if args.api else None
    proxy = FaultProxy(args.listen, args.upstream, seed=args.seed, name=args.name)
    return asyncio.run(_serve(proxy, api, schedule))


async def _serve(
    proxy: FaultProxy, api_address: tuple[str, int] | None, schedule: list[ProxyAction]
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    api = ProxyApi([proxy]) if api_address is not None else None
    try:
        await _bind(proxy.start(), "--listen", proxy.listen_address)
        if api is not None and api_address is not None:
            bound = await _bind(api.start(*api_address), "--api", api_address)
            print(f"api http://{bound[0]}:{bound[1]}", flush=True)
        host, port = proxy.listen_address
        up_host, up_port = proxy.upstream
        print(
            f"proxy {proxy.name} listening {host}:{port} upstream {up_host}:{up_port} "
            f"seed {proxy.seed}",
            flush=True,
        )
        return await _wait(proxy, schedule, stop)
    finally:
        if api is not None:
            await api.stop()
        await proxy.stop()


async def _wait(proxy: FaultProxy, schedule: list[ProxyAction], stop: asyncio.Event) -> int:
    runner = asyncio.ensure_future(run_proxy_schedule([proxy], schedule, runtime=RealRuntime()))
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([runner, stopper], return_when=asyncio.FIRST_COMPLETED)
    if runner.done() and runner.exception() is not None:
        stopper.cancel()
        print(f"dmsim proxy: schedule failed: {runner.exception()}", file=sys.stderr)
        return 1
    await stopper  # the schedule may end long before we are asked to stop
    runner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await runner
    return 0


async def _bind(start: Awaitable[T], what: str, address: tuple[str, int]) -> T:
    try:
        return await start
    except OSError as error:
        raise ConfigError(
            Problem(what, f"cannot listen on {address[0]}:{address[1]}: {error.strerror}")
        ) from None
