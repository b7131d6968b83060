"""ESP32 board over serial: the host side of the framed protocol (see ``_framing`` and
``_esp32_protocol``), exposing ``Analogs`` and ``Gpios`` like rdk's board.

The port is any pyserial URL (``/dev/serial/by-path/...``, ``rfc2217://bench:4000``, a pty in
CI), created with ``serial_for_url(..., do_not_open=True)`` so DTR/RTS are released before
opening (on most boards they drive EN/IO0). A reader task keeps the latest sample; captures
return it if it is fresh, else wait up to ``sample_timeout_s`` (:class:`DeviceTimeout`).

A read or write error (unplug) closes the port: captures raise :class:`DeviceDisconnected`
while the reader re-opens the same URL with backoff, and recovers when the board is back.
Reboots (a new ``boot_id``), lost frames (``seq`` gaps), CRC and COBS errors are counted in
``statistics().transport``, never raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dmsim.runtime import Event, Runtime, Task

from ._board import analog_record
from ._driver import RealDriver
from ._errors import (
    DeviceDisconnected,
    DeviceParamError,
    DeviceReadError,
    DeviceTimeout,
    DeviceUnavailable,
)
from ._esp32_protocol import MSG_HELLO, MSG_SAMPLE, BoardSample, SeqTracker, decode_sample
from ._framing import FrameDecoder
from ._params import param_required
from ._readings import CaptureResult, TabularReading

__all__ = ["Esp32Board", "open_serial"]

_BACKOFF_MIN_S = 0.05
_BACKOFF_MAX_S = 1.0


def open_serial(url: str, *, baudrate: int, timeout: float) -> Any:
    """An opened pyserial port for ``url``, with DTR and RTS released before opening."""
    import serial

    try:
        port = serial.serial_for_url(url, do_not_open=True)
        port.baudrate = baudrate
        port.timeout = timeout
        port.dtr = False
        port.rts = False
        port.open()
    except (serial.SerialException, OSError, ValueError) as error:
        raise DeviceUnavailable(f"serial port {url!r} cannot be opened: {error}") from None
    return port


def _read_some(port: Any) -> bytes:
    """Whatever is waiting, or wait up to the port's timeout for at least one byte."""
    return bytes(port.read(max(1, port.in_waiting)))


@dataclass(frozen=True, slots=True)
class _Latest:
    sample: BoardSample
    at: float  # runtime monotonic seconds when its frame's delimiter arrived
    boot_id: int
    t_dev_us: int


class Esp32Board(RealDriver):
    TYPE = "board"
    METHODS = frozenset({"Analogs", "Gpios"})

    def __init__(
        self,
        *,
        name: str,
        url: str,
        rt: Runtime,
        analogs: Mapping[str, int],
        pins: Iterable[int] = (),
        baudrate: int = 115200,
        stale_after_s: float = 0.5,
        sample_timeout_s: float = 1.0,
        read_timeout_s: float = 0.05,
    ) -> None:
        super().__init__(name=name, rt=rt)
        self.url = url
        self._analogs = dict(analogs)
        self._pins = frozenset(pins)
        self._baud = baudrate
        self._stale = stale_after_s
        self._sample_timeout = sample_timeout_s
        self._read_timeout = read_timeout_s
        self._port: Any = None
        self._reader: Task[None] | None = None
        self._closing = False
        self._decoder = FrameDecoder()
        self._seq = SeqTracker()
        self._latest: _Latest | None = None
        self._arrived: Event = rt.event()
        self.firmware: str | None = None
        self.last_error = "not opened"

    # -- lifecycle ----------------------------------------------------------------------
    async def open(self) -> None:
        """Open the port and start reading (idempotent); :class:`DeviceUnavailable` if the
        port cannot be opened."""
        if self._reader is not None:
            return
        self._closing = False
        self._port = await self._rt.run_blocking(self._open_port)
        self._reader = self._rt.spawn(self._read_loop(), name=f"esp32-reader:{self.name}")

    def _open_port(self) -> Any:
        return open_serial(self.url, baudrate=self._baud, timeout=self._read_timeout)

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            await self._reader.join()  # the loop notices within one read timeout
            self._reader = None
        self._drop_port()

    def _drop_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):  # closing a dead port may fail: it is gone anyway
                port.close()

    @property
    def connected(self) -> bool:
        return self._port is not None

    # -- reading ------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        backoff = _BACKOFF_MIN_S
        while not self._closing:
            port = self._port
            if port is None:
                try:
                    self._port = await self._rt.run_blocking(self._open_port)
                except DeviceUnavailable:
                    await self._rt.sleep(backoff)
                    backoff = min(_BACKOFF_MAX_S, backoff * 2)
                    continue
                backoff = _BACKOFF_MIN_S
                self._decoder = FrameDecoder()  # a half frame from before is garbage now
                self._count("reconnects")
                continue
            try:
                data = await self._rt.run_blocking(_read_some, port)
            except Exception as error:  # a dying port raises SerialException, OSError, TypeError
                self._lost(error)
                continue
            if data:
                self._on_bytes(data)

    def _lost(self, error: BaseException) -> None:
        self._count("disconnects")
        self.last_error = str(error)
        self._drop_port()
        self._notify()

    def _on_bytes(self, data: bytes) -> None:
        result = self._decoder.feed(data)
        for kind, n in result.errors.items():
            self._count(f"frame_{kind}", n)
        now = self._rt.monotonic()
        for frame in result.frames:
            self._count("frames")
            event = self._seq.observe(frame.boot_id, frame.seq)
            if event.kind == "reboot":
                self._count("reboots")
            elif event.kind == "gap":
                self._count("frames_lost", event.lost)
            elif event.kind == "stale":
                self._count("frames_stale")
                continue
            if frame.type == MSG_HELLO:
                self.firmware = frame.payload.decode("utf-8", errors="replace")
            elif frame.type == MSG_SAMPLE:
                sample = decode_sample(frame.payload)
                if sample is None:
                    self._count("bad_payloads")
                    continue
                self._latest = _Latest(sample, now, frame.boot_id, frame.t_dev_us)
                self._notify()
            else:
                self._count("unknown_messages")

    def _notify(self) -> None:
        old, self._arrived = self._arrived, self._rt.event()
        old.set()

    async def _fresh(self) -> _Latest:
        if self._reader is None:
            await self.open()
        deadline = self._rt.monotonic() + self._sample_timeout
        while True:
            if not self.connected:
                raise DeviceDisconnected(
                    f"{self.label}: serial port {self.url} lost ({self.last_error})"
                )
            latest = self._latest
            now = self._rt.monotonic()
            if latest is not None and now - latest.at <= self._stale:
                return latest
            if now >= deadline:
                raise DeviceTimeout(f"{self.label}: no sample for {self._sample_timeout:g}s")
            arrived = self._arrived
            with contextlib.suppress(TimeoutError):
                await self._rt.with_timeout(deadline - now, arrived.wait())

    async def _capture(self, method: str, params: Mapping[str, str], /) -> CaptureResult:
        requested = self._rt.wall_ns()
        if method == "Analogs":
            reader = param_required(params, "reader_name", where=f"{self.label} Analogs")
            pin = self._analogs.get(reader)
            if pin is None:
                known = ", ".join(sorted(self._analogs)) or "none"
                raise DeviceParamError(f"{self.label}: no analog reader {reader!r} (have {known})")
            latest = await self._fresh()
            code = latest.sample.analogs.get(pin)
            if code is None:
                raise DeviceReadError(f"{self.label}: the board does not report analog pin {pin}")
            data: dict[str, Any] = analog_record(code)
        else:
            raw = param_required(params, "pin_name", where=f"{self.label} Gpios")
            if not raw.isdecimal() or (self._pins and int(raw) not in self._pins):
                known = ", ".join(str(p) for p in sorted(self._pins)) or "0..63"
                raise DeviceParamError(f"{self.label}: no GPIO pin {raw!r} (have {known})")
            latest = await self._fresh()
            level = latest.sample.gpios.get(int(raw))
            if level is None:
                raise DeviceReadError(f"{self.label}: the board does not report GPIO {raw}")
            data = {"high": level}
        received = max(requested, self._rt.wall_ns())
        return CaptureResult((TabularReading(data),), requested, received)

    def describe(self) -> dict[str, object]:
        return {
            "model": "esp32",
            "url": self.url,
            "firmware": self.firmware,
            "connected": self.connected,
        }
