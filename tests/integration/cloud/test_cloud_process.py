"""``dmsim cloud serve`` as a real process: query/export on the command line, a SIGKILL
mid-stream, restart faults under the ``--restart-on-crash`` supervisor, and bad input."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.integration.cloud.cloud_env import chunks_of
from tests.integration.cloud.serve_process import ServeProcess, dmsim, serve_process

from dmsim.cli import main
from dmsim.cloud import CloudCore, GrpcTransport
from dmsim.cloud.samples import binary_request, file_metadata, streaming_metadata, tabular_request
from dmsim.errors import CloudError

pytestmark = pytest.mark.timeout(120)

BIG = bytes(range(256)) * 4096  # 1 MiB


async def _upload_stream(port: int, key: str, *, timeout: float = 10.0) -> str:
    client = GrpcTransport(port=port, timeout=timeout)
    try:
        reply = await client.streaming_data_capture_upload(
            streaming_metadata(), chunks_of(BIG), key=key
        )
        return str(reply.binary_data_id)
    finally:
        await client.close()


def cli(*args: str) -> tuple[int, str, str]:
    """Run the ``dmsim`` command in this process (the server under test is a subprocess)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def _query(data: Path, *args: str) -> list[dict[str, object]]:
    status, out, err = cli("cloud", "query", "--data", str(data), "--json", *args)
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_serve_query_export_and_clean_shutdown(tmp_path: Path) -> None:
    data = tmp_path / "cloud"
    with serve_process(data) as server:

        async def upload() -> None:
            client = GrpcTransport(port=server.grpc_port, timeout=5)
            try:
                await client.data_capture_upload(
                    tabular_request([{"t": 1.5}, {"t": 2.5}], component_name="temp"), key="a"
                )
                await client.data_capture_upload(binary_request([b"jpeg"]), key="b")
                await client.file_upload(file_metadata("log.txt"), chunks_of(b"log"), key="c")
            finally:
                await client.close()

        asyncio.run(upload())
        everything = _query(data)  # while the server runs: read-only, concurrent
        assert sorted(r["kind"] for r in everything) == ["binary", "file", "tabular", "tabular"]
        temps = _query(data, "--component", "temp", "--since", "2023-11-14T22:13:21Z")
        assert [r["data"] for r in temps] == [{"t": 2.5}]
        assert temps[0]["time_requested"] == "2023-11-14T22:13:21.000000000Z"
        status, table, _ = cli("cloud", "query", "--data", str(data), "--part", "part-1")
        assert status == 0
        assert len(table.splitlines()) == 4
        assert server.stop() == 0
    status, exported, _ = cli("cloud", "export", "--data", str(data), "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["file_name"] for r in rows} == {"", "log.txt"}
    _, jsonl, _ = cli("cloud", "export", "--data", str(data), "--format", "jsonl")
    assert len(jsonl.splitlines()) == 4
    _, sql, _ = cli("cloud", "sql", "--data", str(data), "SELECT count(*) FROM readings")
    assert sql.splitlines() == ['["count(*)"]', "[2]"]


def _wait_for(predicate: object, what: str, timeout: float = 10.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_sigkill_mid_stream_leaves_no_partial_or_duplicate_record(tmp_path: Path) -> None:
    data = tmp_path / "cloud"
    with serve_process(data) as server:
        # Hold the upload mid-stream so the kill lands while half of it is received.
        server.http(
            "POST", "/api/faults", {"fault_id": "hold", "kind": "stall", "after_bytes": 500_000}
        )

        async def upload_and_kill(live: ServeProcess) -> None:
            task = asyncio.ensure_future(_upload_stream(live.grpc_port, "k-1", timeout=120))

            def stalled() -> bool:
                return bool(live.http("GET", "/api/timeline")["entries"])

            await asyncio.to_thread(_wait_for, stalled, "the upload to start")
            await asyncio.sleep(0.3)  # let it reach the stall point (500 kB of 1 MiB)
            live.process.send_signal(signal.SIGKILL)
            with pytest.raises(ConnectionResetError):  # broken mid-call, outcome unknown
                await task

        asyncio.run(upload_and_kill(server))
        assert server.process.wait(timeout=10) == -signal.SIGKILL
    assert _query(data) == []
    with serve_process(data) as again:
        assert _query(data) == []
        first = asyncio.run(_upload_stream(again.grpc_port, "k-1"))
        second = asyncio.run(_upload_stream(again.grpc_port, "k-1"))
        assert first == second
        (record,) = _query(data)
        assert record["size"] == len(BIG)
    assert not list((data / "blobs" / "tmp").iterdir())


def _peak_rss(pid: int) -> int:
    """The process's peak resident set size so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


@pytest.mark.parametrize("rpc", ["FileUpload", "StreamingDataCaptureUpload"])
def test_a_large_upload_streams_to_disk_in_bounded_memory(tmp_path: Path, rpc: str) -> None:
    chunk, chunks = 1024 * 1024, 96
    data = tmp_path / "cloud"

    async def upload(port: int) -> None:
        async def payload() -> AsyncIterator[bytes]:
            for index in range(chunks):
                yield bytes([index]) * chunk

        client = GrpcTransport(port=port, timeout=60, chunk_size=chunk)
        try:
            if rpc == "FileUpload":
                await client.file_upload(file_metadata("big.bin"), payload(), key="big")
            else:
                await client.streaming_data_capture_upload(
                    streaming_metadata(), payload(), key="big"
                )
        finally:
            await client.close()

    with serve_process(data) as server:
        before = _peak_rss(server.process.pid)
        asyncio.run(upload(server.grpc_port))
        growth = _peak_rss(server.process.pid) - before
        assert growth < 24 * chunk, f"peak RSS grew by {growth / chunk:.0f} MiB"
    (record,) = _query(data)
    assert record["size"] == chunk * chunks


async def _upload_until_ok(port: int, key: str, deadline_s: float = 20.0) -> tuple[str, int]:
    """What a sync worker does: resend with the same key until acknowledged."""
    failures = 0
    deadline = asyncio.get_running_loop().time() + deadline_s
    while True:
        try:
            return await _upload_stream(port, key, timeout=5), failures
        except (ConnectionError, TimeoutError, CloudError):
            failures += 1
            assert asyncio.get_running_loop().time() < deadline, "the cloud never came back"
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("commit", [False, True], ids=["before-commit", "after-commit"])
def test_restart_fault_kills_the_process_and_the_supervisor_restarts_it(
    tmp_path: Path, commit: bool
) -> None:
    data = tmp_path / "cloud"
    with serve_process(data, "--restart-on-crash") as server:
        grpc_port, http_port = server.grpc_port, server.http_port
        fault = {"fault_id": "boom", "kind": "restart", "count": 1, "commit": commit}
        if not commit:
            fault["after_bytes"] = 300_000
        server.http("POST", "/api/faults", fault)
        binary_id, failures = asyncio.run(_upload_until_ok(grpc_port, "crash-key"))
        assert failures >= 1
        assert binary_id
        server.wait_ready()  # the restarted child printed its addresses again
        assert (server.grpc_port, server.http_port) == (grpc_port, http_port)
        assert "restarting" in server.output
        timeline = server.http("GET", "/api/timeline")["entries"]
        # The new process has a fresh plan; it stored the upload only if the dead one had not.
        stored_here = [e for e in timeline if e["outcome"] in ("ok", "cancelled-after-commit")]
        assert len(stored_here) == (0 if commit else 1)
        assert timeline[-1]["outcome"] in ("ok", "duplicate")
        assert server.http("GET", "/api/faults")["faults"] == []
        (record,) = _query(data)
        assert record["size"] == len(BIG)
        assert server.stop() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cloud", "query", "--data", "/nonexistent/dir"], "no cloud data"),
        (["cloud", "query", "--data", ".", "--since", "yesterday"], "--since: 'yesterday'"),
        (["cloud", "query", "--data", ".", "--since", "nan"], "--since: 'nan' is neither"),
        (["cloud", "query", "--data", ".", "--since", "inf"], "--since: 'inf' is neither"),
        (["cloud", "query", "--data", ".", "--since", "1e30"], "--since: '1e30' is not a time"),
        (["cloud", "query", "--data", ".", "--since=-1e12"], "--since: '-1e12' is not a time"),
        (["cloud", "query", "--data", ".", "--until", "-5"], "--until: '-5' is not a time"),
        (["cloud", "export", "--data", ".", "--format", "csv", "--until", "nan"], "--until: 'nan'"),
        (
            ["cloud", "query", "--data", ".", "--limit", "99999999999999999999"],
            "--limit: 99999999999999999999 is more than 2^63 - 1",
        ),
        (["cloud", "query", "--data", ".", "--limit", "-1"], "--limit: '-1' is not a whole number"),
        (["cloud", "serve", "--data", ".", "--port", "70000"], "--port 70000: not a port"),
        (["cloud", "serve", "--data", ".", "--max-message-bytes", "0"], "must be positive"),
        (["cloud", "sql", "--data", "/nonexistent", "SELECT 1"], "no cloud data"),
    ],
)
def test_bad_command_line_input_exits_2(args: list[str], message: str) -> None:
    status, _, err = cli(*args)
    assert status == 2
    assert message in err


@pytest.mark.parametrize("key", ["", "   ", " k3y"], ids=["empty", "blank", "padded"])
def test_serve_refuses_an_api_key_no_client_can_send(tmp_path: Path, key: str) -> None:
    data = tmp_path / "cloud"
    status, _, err = cli("cloud", "serve", "--data", str(data), "--api-key", key)
    assert status == 2
    assert "dmsim cloud serve: --api-key: " in err
    assert not data.exists()


def test_a_second_server_on_the_same_data_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "cloud"
    with serve_process(data) as first:
        second = dmsim("cloud", "serve", "--data", str(data))
        assert second.returncode == 2
        assert f"{data}: in use by a running dmsim (pid {first.process.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        asyncio.run(_upload_stream(first.grpc_port, "after"))  # the first one carries on
        assert first.stop() == 0
    (record,) = _query(data)
    assert record["size"] == len(BIG)


@pytest.mark.parametrize("option", ["--port", "--http-port"])
def test_serve_reports_a_port_in_use(tmp_path: Path, option: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        status, _, err = cli("cloud", "serve", "--data", str(tmp_path), option, str(port))
    assert status == 2
    listener = "gRPC" if option == "--port" else "HTTP"
    assert f"dmsim cloud serve: {listener} port 127.0.0.1:{port}: " in err
    assert "in use" in err


def test_serve_reports_data_that_is_not_a_directory(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("not a directory")
    status, _, err = cli("cloud", "serve", "--data", str(a_file))
    assert status == 2
    assert f"dmsim cloud serve: --data {a_file}: not a directory" in err
    assert a_file.read_text() == "not a directory"


def test_the_installed_command_reports_bad_input_without_traceback() -> None:
    done = dmsim("cloud", "query", "--data", "/nonexistent/dir")
    assert done.returncode == 2
    assert "no cloud data" in done.stderr
    assert "Traceback" not in done.stderr


def test_sql_refusal_exits_2(tmp_path: Path) -> None:
    CloudCore(clock=lambda: 0.0, data_dir=str(tmp_path)).close()
    status, _, err = cli("cloud", "sql", "--data", str(tmp_path), "DELETE FROM items")
    assert status == 2
    assert "only SELECT over the `readings` view" in err


def test_query_text_output_cannot_be_forged_by_a_file_name(tmp_path: Path) -> None:
    forged = 'x\n2099-01-01T00:00:00.000000000Z  p1  fake  tabular  {"v": 42}\x1b[2K\u202e\x9b'
    core = CloudCore(clock=lambda: 0.0, data_dir=str(tmp_path))
    core.ingest_file(file_metadata(forged), b"z", key="f")
    core.close()
    status, out, _ = cli("cloud", "query", "--data", str(tmp_path))
    assert status == 0
    (line,) = out.splitlines()
    assert line.isprintable()
    assert "  x\\n2099-01-01T00:00:00.000000000Z  p1  fake" in line
    assert "\\x1b[2K\\u202e\\x9b 1 B" in line
    _, as_json, _ = cli("cloud", "query", "--data", str(tmp_path), "--json")
    assert json.loads(as_json)["file_name"] == forged
