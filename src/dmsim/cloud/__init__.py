"""The fake cloud: a DataSyncService that stores each upload exactly once, lets people look
at what it stored, and injects RPC-level faults.

- :class:`CloudCore` — ingest, deduplicate, store, query, retention, part deletion
  (synchronous; runs in-process under simulation and behind the gRPC server).
- :class:`RpcFaultPlan` — scheduled or triggered RPC faults and the upload timeline.
- :class:`CloudServer` — the DataSyncService over gRPC (TLS, API key, size limits, faults)
  plus the HTTP API and web page, around a :class:`CloudHost` (core + plan + core thread).
- :class:`GrpcTransport` — the sync engine's cloud transport port over real gRPC.
- :mod:`dmsim.cloud.samples` — well-formed uploads for tests and benchmarks.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._blobs import StagedBlob
from ._core import CloudCore
from ._faults import (
    FAULT_KINDS,
    GRPC_ERROR_CODES,
    RPC_NAMES,
    FaultAction,
    FaultKind,
    FaultPlanStatistics,
    FaultStatus,
    RpcFault,
    RpcFaultPlan,
    TimelineEntry,
)
from ._host import CloudHost, HostStatistics
from ._queries import ExportFormat
from ._records import (
    DATA_KINDS,
    CaptureFilter,
    CloudStatistics,
    DataKind,
    IngestResult,
    StoredFile,
    StoredItem,
    StoredReading,
)
from ._retention import RetentionDeletion, RetentionPolicy
from ._server import DataSyncService
from ._sql import SqlResult
from ._tls import TlsFiles, ensure_certificate
from ._validate import CloudLimits

if TYPE_CHECKING:
    from ._client import GrpcTransport, GrpcTransportStatistics
    from ._serve import CloudServer, CloudServerStatistics

__all__ = [
    "DATA_KINDS",
    "FAULT_KINDS",
    "GRPC_ERROR_CODES",
    "RPC_NAMES",
    "CaptureFilter",
    "CloudCore",
    "CloudHost",
    "CloudLimits",
    "CloudServer",
    "CloudServerStatistics",
    "CloudStatistics",
    "DataKind",
    "DataSyncService",
    "ExportFormat",
    "FaultAction",
    "FaultKind",
    "FaultPlanStatistics",
    "FaultStatus",
    "GrpcTransport",
    "GrpcTransportStatistics",
    "HostStatistics",
    "IngestResult",
    "RetentionDeletion",
    "RetentionPolicy",
    "RpcFault",
    "RpcFaultPlan",
    "SqlResult",
    "StagedBlob",
    "StoredFile",
    "StoredItem",
    "StoredReading",
    "TimelineEntry",
    "TlsFiles",
    "ensure_certificate",
]

# The servers and the gRPC client pull in aiohttp and grpclib's networking, most of a
# simulation's start-up: imported when first asked for.
_LAZY = {
    "CloudServer": "._serve",
    "CloudServerStatistics": "._serve",
    "GrpcTransport": "._client",
    "GrpcTransportStatistics": "._client",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
