"""The cloud transport port: how the sync engine reaches DataSyncService (and the data API's
``CreateSequence``, for the sequences a capture control sensor records).

Implementations: a gRPC client (``dmsim.cloud``) and a simulated link to an in-process cloud
(``dmsim.net``). Every upload carries an idempotency ``key`` derived from the file; a cloud
that has seen the key acknowledges again and stores nothing new. On the wire the key travels as
the gRPC metadata header :data:`IDEMPOTENCY_HEADER`, so Viam's messages stay unchanged.

Outcome of a call, as the sync engine classifies it:

- returns a response: ``ok`` (the cloud committed, or had already committed, the key);
- raises :class:`~dmsim.errors.CloudError` with a gRPC status name: ``fail`` (the cloud did
  not commit), except ``DEADLINE_EXCEEDED`` and ``UNKNOWN``, which are ``unknown``;
- raises ``TimeoutError`` or ``ConnectionError`` after the request may have been sent:
  ``unknown`` (it may have landed; the resend with the same key is safe).

A DataCaptureUpload request may come as its message or already serialized (``bytes``): the
sync engine assembles requests from capture-file bytes, and parsing one only for the gRPC
library to serialize it again cost ≈ 15 ms of event-loop CPU per MiB, time the capture loop
waits. :func:`request_message` and :func:`request_bytes` give a transport the form it needs.

The chunk iterators of the streaming calls belong to the sync engine: they read the file from
disk while the call runs, and may raise (a local read error arrives as
:class:`~dmsim.errors.StorageError`; a file that changed under its upload as the engine's
``FileChangedError``, a ``StorageError`` too). A transport must then abandon the call without
committing it (never end the stream normally) and let that exception propagate unchanged:
mapped to ``ConnectionError`` it would read as an outage and pause every upload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from viam.proto.app.data import CreateSequenceRequest, CreateSequenceResponse
from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    DataCaptureUploadResponse,
    FileUploadResponse,
    StreamingDataCaptureUploadResponse,
    UploadMetadata,
)

__all__ = [
    "CREATE_SEQUENCE_PATH",
    "IDEMPOTENCY_HEADER",
    "CloudTransport",
    "DataCaptureRequest",
    "request_bytes",
    "request_message",
]

IDEMPOTENCY_HEADER = "dmsim-idempotency-key"
#: CreateSequence's gRPC method path: Viam serves it on the data API, not on DataSyncService.
CREATE_SEQUENCE_PATH = "/viam.app.data.v1.DataService/CreateSequence"


DataCaptureRequest = DataCaptureUploadRequest | bytes


def request_message(request: DataCaptureRequest) -> DataCaptureUploadRequest:
    if isinstance(request, bytes):
        message: DataCaptureUploadRequest = DataCaptureUploadRequest.FromString(request)
        return message
    return request


def request_bytes(request: DataCaptureRequest) -> bytes:
    return request if isinstance(request, bytes) else request.SerializeToString()


class CloudTransport(Protocol):
    async def data_capture_upload(
        self, request: DataCaptureRequest, *, key: str
    ) -> DataCaptureUploadResponse:
        """DataCaptureUpload: one unary call (the request as a message or its bytes)."""

    async def file_upload(
        self, metadata: UploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> FileUploadResponse:
        """FileUpload: first packet the metadata, then ``FileData`` chunks (64 KiB)."""

    async def streaming_data_capture_upload(
        self, metadata: DataCaptureUploadMetadata, chunks: AsyncIterator[bytes], *, key: str
    ) -> StreamingDataCaptureUploadResponse:
        """StreamingDataCaptureUpload: first packet the metadata, then ``data`` chunks."""

    async def create_sequence(
        self, request: CreateSequenceRequest, *, key: str
    ) -> CreateSequenceResponse:
        """The data API's CreateSequence: one unary call (``viam.app.data.v1.DataService``)."""

    async def close(self) -> None: ...
