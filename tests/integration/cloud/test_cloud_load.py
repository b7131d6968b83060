"""100 concurrent uploaders against a ``dmsim cloud serve`` process on loopback: nothing lost,
nothing duplicated, and the server keeps answering a probe (``bench/bench_cloud.py`` runs the
same load for a minute and records throughput and p99 latency)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bench.bench_cloud import check_exactly_once, report, run_load
from tests.integration.cloud.serve_process import serve_process

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

UPLOADERS = 100
SECONDS = 8.0


def test_hundred_concurrent_uploaders_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "cloud"
    with serve_process(data) as server:
        stats = asyncio.run(run_load(port=server.grpc_port, uploaders=UPLOADERS, duration=SECONDS))
        everything = server.http("GET", "/api/statistics")
        statistics, commits = everything["cloud"], everything["commits"]
        assert server.stop() == 0
    result = report(
        stats, uploaders=UPLOADERS, duration=SECONDS, stored=check_exactly_once(data, stats)
    )
    assert result.errors == {}
    assert (result.lost, result.duplicated) == (0, 0)
    assert result.uploads >= UPLOADERS  # every uploader got at least one upload through
    assert result.stored == result.readings_sent
    assert statistics["duplicates"] == result.resends
    assert commits["grouped_uploads"] == result.uploads + result.resends + result.probes
    # Responsive: the probe got through about every 0.5 s (generous bound for loaded CI).
    assert result.probes >= SECONDS / 0.5 / 4
    assert result.probe_max_ms < 15_000
