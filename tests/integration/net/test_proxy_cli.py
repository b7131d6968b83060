"""``dmsim proxy`` as a process: bound addresses, schedule, HTTP API, clean shutdown, bad input."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from tests.integration.net.proxy_env import (
    LOOPBACK,
    client,
    echo_behind_proxy,
    echo_server,
    round_trip,
    run,
)

from dmsim.cli import main
from dmsim.net import FaultProxy, parse_proxy_schedule, run_proxy_schedule
from dmsim.runtime import RealRuntime

DMSIM = [sys.executable, "-m", "dmsim.cli", "proxy"]


def test_schedule_applies_and_lifts_toxics_on_the_wall_clock() -> None:
    actions = parse_proxy_schedule(
        [
            {"at": 0.0, "action": "add_toxic", "duration": 0.6,
             "toxic": {"type": "latency", "attributes": {"latency": 300}}},
            {"at": 0.9, "action": "disable"},
        ]
    )  # fmt: skip

    async def main() -> None:
        async with echo_behind_proxy() as proxy:
            runner = asyncio.ensure_future(
                run_proxy_schedule([proxy], actions, runtime=RealRuntime())
            )
            await asyncio.sleep(0.05)
            async with client(proxy) as (reader, writer):
                assert (await round_trip(reader, writer, b"early"))[1] >= 0.3
                await asyncio.sleep(0.4)  # past 0.6 s: removed
                assert (await round_trip(reader, writer, b"late"))[1] < 0.2
            await runner
            assert not proxy.enabled
            kinds = [e.kind for e in proxy.journal() if e.kind.startswith("schedule.")]
            assert kinds == ["schedule.add_toxic", "schedule.remove_toxic", "schedule.disable"]

    run(main())


async def start_cli(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        *DMSIM, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    bound: dict[str, str] = {}
    while "proxy" not in bound:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line, "dmsim proxy exited before printing its addresses"
        word, _, rest = line.partition(" ")
        bound[word] = rest.strip()
    return process, bound


def test_cli_serves_api_and_schedule_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    schedule = tmp_path / "faults.json"
    schedule.write_text(
        json.dumps(
            [{"at": 0, "action": "add_toxic",
              "toxic": {"name": "lag", "type": "latency", "attributes": {"latency": 200}}}]
        )
    )  # fmt: skip

    async def main() -> None:
        async with echo_server() as echo_port:
            process, bound = await start_cli(
                "--listen", f"{LOOPBACK}:0", "--upstream", f"{LOOPBACK}:{echo_port}",
                "--api", f"{LOOPBACK}:0", "--seed", "42", "--schedule", str(schedule),
            )  # fmt: skip
            try:
                match = re.fullmatch(
                    r"dmsim listening 127\.0\.0\.1:(\d+) upstream 127\.0\.0\.1:(\d+) seed 42",
                    bound["proxy"],
                )
                assert match is not None, bound
                assert int(match.group(2)) == echo_port
                port = int(match.group(1))
                api = bound["api"]
                async with aiohttp.ClientSession() as http:
                    for _ in range(50):  # the schedule's first action runs at once
                        async with http.get(f"{api}/proxies/dmsim/toxics") as response:
                            if await response.json():
                                break
                        await asyncio.sleep(0.05)
                reader, writer = await asyncio.open_connection(LOOPBACK, port)
                _, took = await round_trip(reader, writer, b"via cli")
                assert took >= 0.2
                writer.close()
                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), 10)
                assert process.stderr is not None
                stderr = (await process.stderr.read()).decode()
                assert (code, stderr) == (0, "")
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()

    run(main())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nonsense", "--upstream", "127.0.0.1:1"], "listen: expected HOST:PORT"),
        (["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:99999"], "port must be in 0..65535"),
        (["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--api", "x"], "--api: expected"),
    ],
)
def test_cli_bad_input_exits_2_without_traceback(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["proxy", *args]) == 2
    stderr = capsys.readouterr().err
    assert message in stderr
    assert "Traceback" not in stderr


def test_cli_bad_schedule_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schedule = tmp_path / "bad.yaml"
    schedule.write_text("- {at: 1, action: remove_toxic, name: ghost}\n")
    args = ["--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--schedule", str(schedule)]
    assert main(["proxy", *args]) == 2
    stderr = capsys.readouterr().err
    assert "bad.yaml: 1 problem(s)" in stderr
    assert "no toxic 'ghost'" in stderr


def test_cli_busy_port_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server((LOOPBACK, 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["proxy", "--listen", f"{LOOPBACK}:{port}", "--upstream", "127.0.0.1:1"]) == 2
    stderr = capsys.readouterr().err
    assert f"--listen: cannot listen on 127.0.0.1:{port}" in stderr
    assert "Traceback" not in stderr


def test_proxy_start_stop_timing_is_quick() -> None:
    async def main() -> float:
        async with echo_server() as port:
            start = time.monotonic()
            proxy = FaultProxy(f"{LOOPBACK}:0", f"{LOOPBACK}:{port}", seed=0)
            await proxy.start()
            await proxy.stop()
            return time.monotonic() - start

    assert run(main()) < 1.0
