"""A fake ESP32 on a pseudo-terminal: the exact wire protocol, on the wall clock, with faults.

The host driver opens ``link`` (a symlink to the pty's slave side, standing in for a stable
``/dev/serial/by-path/...`` name). A writer thread streams ``SAMPLE`` frames at ``rate_hz``;
at every boot it first prints the ROM banner (junk the framing must skip) and a ``HELLO``.

Faults: :meth:`reset` (reboot: banner, new ``boot_id``, ``seq`` from 0), :meth:`send_garbage`,
:meth:`corrupt_next` (bit flips: CRC errors), :meth:`drop_next` (frames lost: ``seq`` gaps),
:meth:`unplug` (the node vanishes; the host's reads fail) and :meth:`replug` (a new node behind
the same link, freshly booted).

This is a test double for real-runtime tests and the bench; it uses threads and real time.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import tty
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from ._esp32_protocol import MSG_HELLO, MSG_SAMPLE, encode_sample
from ._framing import SerialFrame, encode_frame

__all__ = ["BOOT_BANNER", "FakeEsp32"]

BOOT_BANNER = (
    b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    b"configsip: 0, SPIWP:0xee\r\nclk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00\r\n"
    b"mode:DIO, clock div:2\r\nload:0x3fff0030,len:1184\r\nentry 0x400805f0\r\n"
)


class FakeEsp32:
    def __init__(
        self,
        *,
        link: Path,
        analogs: Mapping[int, int] | None = None,
        gpios: Mapping[int, bool] | None = None,
        rate_hz: float = 100.0,
        firmware: str = "dmsim-fake-esp32 1.0",
        boot_id: int = 1,
    ) -> None:
        self.link = link
        self._analogs = dict(analogs if analogs is not None else {34: 1234, 35: 2345})
        self._gpios = dict(gpios if gpios is not None else {27: True})
        self._period = 1.0 / rate_hz
        self._firmware = firmware
        self.boot_id = boot_id
        self._seq = 0
        self._corrupt = 0
        self._drop = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._boot_ns = time.monotonic_ns()
        self.frames_sent = 0
        self.boots = 0

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> FakeEsp32:
        with self._lock:
            self._plug()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fake-esp32", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._unplug()

    def __enter__(self) -> FakeEsp32:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- faults -------------------------------------------------------------------------
    def reset(self) -> None:
        """Reboot: banner, a new boot id, sequence numbers from 0, HELLO."""
        with self._lock:
            self.boot_id = (self.boot_id + 1) & 0xFFFF
            self._boot()

    def send_garbage(self, data: bytes) -> None:
        with self._lock:
            self._write(data)

    def corrupt_next(self, count: int = 1) -> None:
        with self._lock:
            self._corrupt += count

    def drop_next(self, count: int = 1) -> None:
        with self._lock:
            self._drop += count

    def unplug(self) -> None:
        with self._lock:
            self._unplug()

    def replug(self) -> None:
        with self._lock:
            self.boot_id = (self.boot_id + 1) & 0xFFFF
            self._plug()

    def set_analog(self, pin: int, code: int) -> None:
        with self._lock:
            self._analogs[pin] = code

    def set_gpio(self, pin: int, level: bool) -> None:
        with self._lock:
            self._gpios[pin] = level

    # -- inside (call with the lock held) -----------------------------------------------
    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # at once: otherwise the tty echoes and mangles bytes
        os.set_blocking(master, False)  # a UART nobody listens to drops bytes, never blocks
        self._master, self._slave = master, slave
        temp = self.link.with_name(self.link.name + ".new")
        temp.unlink(missing_ok=True)
        temp.symlink_to(os.ttyname(slave))
        temp.replace(self.link)
        self._boot()

    def _unplug(self) -> None:
        self.link.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def _boot(self) -> None:
        self.boots += 1
        self._seq = 0
        self._boot_ns = time.monotonic_ns()
        self._write(BOOT_BANNER)
        self._send(MSG_HELLO, self._firmware.encode())

    def _send(self, msg_type: int, payload: bytes) -> None:
        t_dev_us = (time.monotonic_ns() - self._boot_ns) // 1000
        frame = SerialFrame(msg_type, self._seq, self.boot_id, t_dev_us, payload)
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        if self._drop:
            self._drop -= 1
            return
        data = bytearray(encode_frame(frame))
        if self._corrupt:
            self._corrupt -= 1
            data[len(data) // 2] ^= 0x10 if data[len(data) // 2] != 0x10 else 0x20
        self._write(bytes(data))
        self.frames_sent += 1

    def _write(self, data: bytes) -> None:
        if self._master is None:
            return
        # Not read (or nobody there): the bytes are lost, as on a wire.
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            with self._lock:
                self._send(MSG_SAMPLE, encode_sample(self._analogs, self._gpios))
