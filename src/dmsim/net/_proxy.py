"""FaultProxy: a real TCP proxy with Toxiproxy-style toxics and seeded decisions.

Every random decision comes from ``RngTree(seed)``, one stream per (connection index, toxic
name, how many times that name was added): the same seed and the same order of connections and
toxic changes give the same toxicity decisions, jitter and slice sizes, whatever the wall
clock does. Time and waiting come from a :class:`~dmsim.runtime.RealRuntime` (injectable).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dmsim.errors import ConfigError, Problem
from dmsim.runtime import RealRuntime, RngTree, Runtime, Trace

from ._conn import Connection, reset_writer
from ._toxics import (
    Stream,
    Toxic,
    ToxicConflictError,
    ToxicNotFoundError,
    ToxicType,
    applies,
    parse_toxic,
    update_toxic,
)

__all__ = ["FaultProxy", "ProxyEvent", "ProxyStatistics", "parse_address"]

_JOURNAL_LIMIT = 100_000
_UNTRACED = frozenset({"latency", "dropped"})  # per chunk: journal only


@dataclass(frozen=True, slots=True)
class ProxyEvent:
    """One decision or action, in order; no wall time, so two runs can be compared."""

    seq: int
    kind: str
    connection: int | None = None
    toxic: str | None = None
    value: float | None = None


@dataclass(frozen=True, slots=True)
class ProxyStatistics:
    connections: int  # accepted and connected upstream
    active: int
    refused: int  # reset at once by a partial ``down`` toxic, or upstream unreachable
    bytes_upstream: int
    bytes_downstream: int
    toxics_fired: Mapping[str, int]  # per toxic type: connections it applied to, and its acts
    closes: Mapping[str, int]  # per reason


def parse_address(value: str | tuple[str, int], *, what: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) or a ``(host, port)`` tuple."""
    if isinstance(value, tuple):
        host, port = value
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or not port_text.isdecimal():
            raise ConfigError(Problem(what, f"expected HOST:PORT, got {value!r}"))
        host, port = host.strip("[]") or "127.0.0.1", int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(Problem(what, f"port must be in 0..65535, got {port}"))
    return host, port


class FaultProxy:
    """One proxy: ``listen`` → ``upstream``. Port 0 picks a free port (see ``listen_address``)."""

    def __init__(
        self,
        listen: str | tuple[str, int],
        upstream: str | tuple[str, int],
        *,
        seed: int,
        name: str = "dmsim",
        runtime: Runtime | None = None,
        trace: Trace | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.seed = seed
        self._listen = parse_address(listen, what="listen")
        self.upstream = parse_address(upstream, what="upstream")
        self._rt = runtime if runtime is not None else RealRuntime()
        self._trace = trace
        self._rng = RngTree(seed).child(f"proxy:{name}")
        self._connect_timeout = connect_timeout
        self._enabled = True
        self._toxics: dict[str, Toxic] = {}
        self._generation: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._started = False
        self._connections: dict[Connection, None] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._next_index = 0
        self._accepted = 0
        self._refused = 0
        self._bytes = dict.fromkeys(Stream, 0)
        self._fired: Counter[str] = Counter()
        self._closes: Counter[str] = Counter()
        self._journal: deque[ProxyEvent] = deque(maxlen=_JOURNAL_LIMIT)
        self._seq = 0

    # lifecycle
    async def start(self) -> None:
        self._started = True
        await self._sync_listener()

    async def stop(self) -> None:
        self._started = False
        await self._sync_listener()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    @property
    def listen_address(self) -> tuple[str, int]:
        """The bound address (the real port once started with port 0)."""
        return self._listen

    @property
    def enabled(self) -> bool:
        return self._enabled

    # control
    async def set_enabled(self, enabled: bool) -> None:
        """Toxiproxy's ``enabled``: a disabled proxy refuses connections and drops live ones."""
        self._enabled = enabled
        self.note("enabled" if enabled else "disabled", None, None, None)
        await self._sync_listener()

    def toxics(self) -> list[Toxic]:
        return list(self._toxics.values())

    def get_toxic(self, name: str) -> Toxic:
        try:
            return self._toxics[name]
        except KeyError:
            raise ToxicNotFoundError(
                Problem("toxic", f"no toxic {name!r} on proxy {self.name!r}")
            ) from None

    async def add_toxic(self, toxic: Toxic | Mapping[str, Any]) -> Toxic:
        toxic = toxic if isinstance(toxic, Toxic) else parse_toxic(toxic)
        if toxic.name in self._toxics:
            raise ToxicConflictError(
                Problem("toxic.name", f"toxic {toxic.name!r} already exists on proxy {self.name!r}")
            )
        self._generation[toxic.name] += 1
        self._toxics[toxic.name] = toxic
        self.note("toxic.added", None, toxic.name, None)
        if toxic.type is not ToxicType.DOWN:  # down acts on whole connections, at accept
            for conn in list(self._connections):
                conn.add_toxic(toxic)
        await self._sync_listener()
        return toxic

    async def update_toxic(self, name: str, data: Mapping[str, Any]) -> Toxic:
        toxic = update_toxic(self.get_toxic(name), data)
        self._toxics[name] = toxic
        self.note("toxic.updated", None, name, None)
        for conn in list(self._connections):
            conn.replace_toxic(toxic)
        await self._sync_listener()
        return toxic

    async def remove_toxic(self, name: str) -> None:
        self.get_toxic(name)
        del self._toxics[name]
        self.note("toxic.removed", None, name, None)
        for conn in list(self._connections):
            conn.remove_toxic(name)
        await self._sync_listener()

    async def reset(self) -> None:
        """Toxiproxy's ``/reset``: enable, and remove every toxic."""
        for name in list(self._toxics):
            await self.remove_toxic(name)
        await self.set_enabled(True)

    def statistics(self) -> ProxyStatistics:
        return ProxyStatistics(
            connections=self._accepted,
            active=len(self._connections),
            refused=self._refused,
            bytes_upstream=self._bytes[Stream.UPSTREAM],
            bytes_downstream=self._bytes[Stream.DOWNSTREAM],
            toxics_fired=dict(sorted(self._fired.items())),
            closes=dict(sorted(self._closes.items())),
        )

    def journal(self) -> tuple[ProxyEvent, ...]:
        return tuple(self._journal)

    def to_json(self) -> dict[str, Any]:
        host, port = self._listen
        up_host, up_port = self.upstream
        return {
            "name": self.name,
            "listen": f"{_bracket(host)}:{port}",
            "upstream": f"{_bracket(up_host)}:{up_port}",
            "enabled": self._enabled,
            "toxics": [t.to_json() for t in self._toxics.values()],
        }

    # the Host protocol, for connections
    def data_toxics(self) -> list[Toxic]:
        """The toxics that act on a connection's data, in the order they were added."""
        return [t for t in self._toxics.values() if t.type is not ToxicType.DOWN]

    def stub_rng(self, connection: int, toxic: Toxic) -> np.random.Generator:
        node = self._rng.child(f"conn-{connection}").child(
            f"{toxic.name}#{self._generation[toxic.name]}"
        )
        return node.numpy()

    def note(
        self, kind: str, connection: int | None, toxic: str | None, value: float | None
    ) -> None:
        self._seq += 1
        self._journal.append(ProxyEvent(self._seq, kind, connection, toxic, value))
        if kind == "toxic.applies" and toxic in self._toxics:
            self._fired[self._toxics[toxic].type.value] += 1
        if self._trace is not None and kind not in _UNTRACED:
            self._trace.record(
                f"net.proxy.{kind}",
                proxy=self.name,
                connection=connection,
                toxic=toxic,
                value=value,
            )

    def count_bytes(self, stream: Stream, nbytes: int) -> None:
        self._bytes[stream] += nbytes

    def now(self) -> float:
        return self._rt.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        await self._rt.sleep_until(deadline)

    # internals
    def _listening_wanted(self) -> bool:
        fully_down = any(
            t.type is ToxicType.DOWN and t.toxicity >= 1.0 for t in self._toxics.values()
        )
        return self._started and self._enabled and not fully_down

    async def _sync_listener(self) -> None:
        if self._listening_wanted() and self._server is None:
            host, port = self._listen
            self._server = await asyncio.start_server(
                self._on_client, host, port, reuse_address=True
            )
            self._listen = self._server.sockets[0].getsockname()[:2]
            self.note("listening", None, None, None)
        elif not self._listening_wanted() and self._server is not None:
            server, self._server = self._server, None
            server.close()
            if self._started and self._enabled:  # so a full down toxic closed it
                self._fired[ToxicType.DOWN.value] += 1
            # Close ours first: wait_closed may wait for every accepted connection.
            reason = "proxy_stopped" if not self._started else "proxy_down"
            for conn in list(self._connections):
                conn.close(reset=False, reason=reason)
            await server.wait_closed()
            self.note("not-listening", None, None, None)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self._next_index  # in accept order, before any wait
        self._next_index += 1
        if self._refuse(index):
            self._refused += 1
            self.note("refused", index, None, None)
            reset_writer(writer)
            return
        try:
            server = await asyncio.wait_for(
                asyncio.open_connection(*self.upstream), timeout=self._connect_timeout
            )
        except (TimeoutError, OSError):
            self._refused += 1
            self.note("upstream.unreachable", index, None, None)
            reset_writer(writer)
            return
        if not self._listening_wanted():  # went down while we connected upstream
            self._refused += 1
            self.note("refused", index, None, None)
            writer.close()  # as the live connections were closed
            server[1].close()
            return
        self._accepted += 1
        self.note("accepted", index, None, None)
        conn = Connection(self, index, (reader, writer), server, self._closed)
        self._connections[conn] = None
        await conn.run()

    def _refuse(self, index: int) -> bool:
        """A partial ``down`` toxic resets the connections its toxicity picks."""
        refuse = False
        for toxic in self._toxics.values():
            if toxic.type is ToxicType.DOWN:
                draw = float(self.stub_rng(index, toxic).random())
                hit = applies(toxic.toxicity, draw)
                self.note("toxic.applies" if hit else "toxic.skips", index, toxic.name, None)
                refuse = refuse or hit
        return refuse

    def _closed(self, conn: Connection, reason: str) -> None:
        self._connections.pop(conn, None)
        self._closes[reason] += 1
        self.note(f"closed.{reason}", conn.index, None, None)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
