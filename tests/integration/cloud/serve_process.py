"""Run ``dmsim cloud serve`` as a subprocess and read its bound addresses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import Any


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    lines: Queue[str] = field(default_factory=Queue)
    grpc_port: int = 0
    http_port: int | None = None
    output: list[str] = field(default_factory=list)

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Read lines until ``ready``; learn the ports."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except Empty:
                raise AssertionError(f"server not ready; output so far: {self.output}") from None
            name, _, address = line.partition(": ")
            if name == "grpc":
                self.grpc_port = int(address.rsplit(":", 1)[1])
            elif name == "http":
                self.http_port = int(address.rstrip("/").rsplit(":", 1)[1])
            elif line == "ready":
                return

    def http(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)


def _pump(process: subprocess.Popen[str], serve: ServeProcess) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.rstrip("\n")
        serve.output.append(line)
        serve.lines.put(line)


@contextmanager
def serve_process(data: Path, *extra: str) -> Iterator[ServeProcess]:
    """``dmsim cloud serve --data DATA --http-port 0 EXTRA...``; killed if still running."""
    command = [
        sys.executable, "-m", "dmsim.cli", "cloud", "serve", "--data", str(data),
        "--http-port", "0", *extra,
    ]  # fmt: skip
    # Its own process group, so a supervisor and its child are cleaned up together.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    serve = ServeProcess(process)
    threading.Thread(target=_pump, args=(process, serve), daemon=True).start()
    try:
        serve.wait_ready()
        yield serve
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # a child the server left behind, if any
        if process.stdout is not None:
            process.stdout.close()


def dmsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dmsim.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
