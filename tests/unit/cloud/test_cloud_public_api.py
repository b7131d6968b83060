"""The public names of dmsim.cloud are pinned: changing them is a deliberate act."""

from __future__ import annotations

import dmsim.cloud
import dmsim.cloud.samples


def test_public_names() -> None:
    assert sorted(dmsim.cloud.__all__) == sorted(
        [
            "DATA_KINDS", "FAULT_KINDS", "GRPC_ERROR_CODES", "RPC_NAMES", "CaptureFilter",
            "CloudCore", "CloudHost", "CloudLimits", "CloudServer", "CloudServerStatistics",
            "CloudStatistics", "DataKind", "DataSyncService", "ExportFormat", "FaultAction",
            "FaultKind", "FaultPlanStatistics", "FaultStatus", "GrpcTransport",
            "GrpcTransportStatistics", "HostStatistics", "IngestResult", "RetentionDeletion",
            "RetentionPolicy", "RpcFault", "RpcFaultPlan", "SqlResult", "StagedBlob", "StoredFile",
            "StoredItem", "StoredReading", "TimelineEntry", "TlsFiles",
            "ensure_certificate",
        ]
    )  # fmt: skip
    for name in dmsim.cloud.__all__:
        assert getattr(dmsim.cloud, name) is not None


def test_sample_builders_are_public() -> None:
    assert set(dmsim.cloud.samples.__all__) == {
        "Box", "binary_request", "file_metadata", "streaming_metadata", "tabular_request",
    }  # fmt: skip
