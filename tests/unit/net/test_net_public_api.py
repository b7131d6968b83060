"""The public surface of dmsim.net is pinned: adding or removing a name is a decision."""

from __future__ import annotations

import dmsim.net

EXPECTED = {
    # simulated link
    "Direction", "DirectionParams", "DownWindow", "LinkParams", "OutageModel", "LinkProfile",
    "PROFILES", "profile", "ConnectivityRow", "load_connectivity_trace",
    "parse_connectivity_trace", "LinkState", "LinkTimeline", "TransferPlan", "TransferEnd",
    "Settled", "plan_transfer", "settle", "SimLink", "LinkStatistics", "LinkDownError",
    "LinkResetError", "LinkTimeoutError", "Impairment",
    # simulated transport
    "SimCloudTransport", "SimTransportStatistics", "UploadAttempt", "ClientOutcome",
    # real proxy
    "FaultProxy", "ProxyStatistics", "ProxyEvent", "ProxyApi", "parse_address", "Toxic",
    "ToxicType", "Stream", "ToxicConflictError", "ToxicNotFoundError", "parse_toxic",
    "update_toxic", "applies", "latency_seconds", "slice_sizes", "ActionKind", "ProxyAction",
    "parse_proxy_schedule", "load_proxy_schedule", "run_proxy_schedule",
}  # fmt: skip


def test_exports_are_pinned_and_importable() -> None:
    assert set(dmsim.net.__all__) == EXPECTED
    for name in dmsim.net.__all__:
        assert getattr(dmsim.net, name) is not None


def test_link_errors_are_the_builtin_families() -> None:
    assert issubclass(dmsim.net.LinkDownError, ConnectionError)
    assert issubclass(dmsim.net.LinkResetError, ConnectionResetError)
    assert issubclass(dmsim.net.LinkTimeoutError, TimeoutError)
