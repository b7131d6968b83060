"""``CloudServer``: the gRPC DataSyncService and (optionally) the HTTP API of one cloud,
started and stopped together on loopback or any address."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web
from grpclib.server import Server

from ._host import CloudHost
from ._http import build_http_app
from ._server import DataSyncService
from ._tls import TlsFiles, server_ssl_context

__all__ = ["CloudServer", "CloudServerStatistics"]


@dataclass(frozen=True, slots=True)
class CloudServerStatistics:
    unauthenticated: int
    fault_calls: int
    faults_fired: int


class CloudServer:
    """Serve ``host`` over gRPC at ``address:port`` (0 = ephemeral) and, if ``http_port`` is not
    None, its HTTP API and web page at ``address:http_port``. With ``tls`` the gRPC port speaks
    TLS only. ``crash`` is what a ``restart`` fault does (see :class:`DataSyncService`)."""

    def __init__(
        self,
        host: CloudHost,
        *,
        address: str = "127.0.0.1",
        port: int = 0,
        http_port: int | None = None,
        tls: TlsFiles | None = None,
        api_key: str | None = None,
        crash: Callable[[], None] | None = None,
    ) -> None:
        self.host = host
        self._address = address
        self._port = port
        self._http_port = http_port
        self._tls = tls
        self._api_key = api_key
        self._service = DataSyncService(host, api_key=api_key, crash=crash)
        self._grpc: Server | None = None
        self._http: web.AppRunner | None = None
        self._bound: tuple[int, int | None] | None = None

    async def start(self) -> None:
        """Bind both ports and serve. A port that cannot be bound raises ``OSError`` whose
        ``filename`` names it (``gRPC port 127.0.0.1:50051``); nothing is left listening."""
        try:
            await self._listen()
        except BaseException:
            await self._close_listeners()
            raise

    async def _listen(self) -> None:
        grpc = Server([self._service])
        ssl = None if self._tls is None else server_ssl_context(self._tls)
        with _naming_the_port("gRPC", self._address, self._port):
            await grpc.start(self._address, self._port, ssl=ssl, reuse_address=True)
        self._grpc = grpc
        grpc_port = _bound_port(grpc)
        http_port = None
        if self._http_port is not None:
            runner = web.AppRunner(build_http_app(self.host, api_key=self._api_key))
            await runner.setup()
            self._http = runner
            site = web.TCPSite(runner, self._address, self._http_port, reuse_address=True)
            with _naming_the_port("HTTP", self._address, self._http_port):
                await site.start()
            http_port = runner.addresses[0][1]
        self._bound = (grpc_port, http_port)

    @property
    def port(self) -> int:
        """The bound gRPC port."""
        if self._bound is None:
            raise RuntimeError("CloudServer is not started")
        return self._bound[0]

    @property
    def http_port(self) -> int | None:
        if self._bound is None:
            raise RuntimeError("CloudServer is not started")
        return self._bound[1]

    async def stop(self) -> None:
        """Stop accepting, finish or drop open calls, close the core."""
        await self._close_listeners()
        self.host.close()

    async def _close_listeners(self) -> None:
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
        if self._grpc is not None:
            self._grpc.close()
            await self._grpc.wait_closed()
            self._grpc = None

    def statistics(self) -> CloudServerStatistics:
        plan = self.host.plan.statistics()
        return CloudServerStatistics(
            unauthenticated=self._service.unauthenticated,
            fault_calls=plan.calls,
            faults_fired=plan.calls - plan.passed,
        )


@contextmanager
def _naming_the_port(listener: str, address: str, port: int) -> Iterator[None]:
    try:
        yield
    except OSError as error:
        # asyncio's bind message repeats the address: errno's own words suffice beside ours.
        # (getaddrinfo's errors have negative numbers and their own words.)
        number = error.errno or 0
        reason = os.strerror(number) if number > 0 else (error.strerror or str(error))
        raise OSError(error.errno, reason, f"{listener} port {address}:{port}") from error


def _bound_port(server: Server) -> int:
    listener = server._server
    for sock in getattr(listener, "sockets", ()):
        return int(sock.getsockname()[1])
    raise RuntimeError("gRPC server has no listening socket")
