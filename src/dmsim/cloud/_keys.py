"""Upload keys, content fingerprints and derived ids (deterministic: never uuid4).

Every stored upload has an *upload key*:

- ``key:<k>`` when the client sent an idempotency key ``k`` (the ``dmsim-idempotency-key``
  header);
- ``content:<sha256>`` otherwise, where the hash is the request's *fingerprint* below.

The fingerprint of a request covers what identifies its data, each part length-prefixed so
that no two different requests share an encoding:

- the RPC name, ``part_id``, ``component_type``, ``component_name``, ``method_name`` and the
  data type of the upload metadata;
- DataCaptureUpload: every ``SensorData`` serialized deterministically (map keys sorted),
  *including unknown fields* — so dmsim's reading identity (field 71000) and the reading's
  timestamps take part;
- FileUpload: ``file_name`` and the SHA-256 of the file's bytes;
- StreamingDataCaptureUpload: the ``SensorMetadata`` (deterministic, incl. unknown fields)
  and the SHA-256 of the payload's bytes.

(A file or streamed payload counts by its digest because the server hashes it as it arrives
and never holds it whole; the digest is also the blob's name.)

Tags, dataset ids, ``file_extension`` and ``method_parameters`` are *not* covered: a resend
that only changes those is still the same data.

The ids the cloud returns are derived from the upload key, so an acknowledgement sent again
for a duplicate carries the same ids as the first one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from viam.proto.app.datasync import (
    DataCaptureUploadMetadata,
    DataCaptureUploadRequest,
    UploadMetadata,
)

__all__ = [
    "client_upload_key",
    "content_upload_key",
    "data_capture_fingerprint",
    "file_fingerprint",
    "file_id_for",
    "item_id_for",
    "streaming_fingerprint",
]


def _digest(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _identity_parts(rpc: str, md: UploadMetadata) -> list[bytes]:
    return [
        rpc.encode(),
        md.part_id.encode(),
        md.component_type.encode(),
        md.component_name.encode(),
        md.method_name.encode(),
        str(int(md.type)).encode(),
    ]


def data_capture_fingerprint(request: DataCaptureUploadRequest) -> str:
    parts = _identity_parts("DataCaptureUpload", request.metadata)
    parts.extend(sd.SerializeToString(deterministic=True) for sd in request.sensor_contents)
    return _digest(parts)


def file_fingerprint(metadata: UploadMetadata, data_sha256: str) -> str:
    parts = _identity_parts("FileUpload", metadata)
    parts += [metadata.file_name.encode(), data_sha256.encode()]
    return _digest(parts)


def streaming_fingerprint(metadata: DataCaptureUploadMetadata, data_sha256: str) -> str:
    parts = _identity_parts("StreamingDataCaptureUpload", metadata.upload_metadata)
    parts += [metadata.sensor_metadata.SerializeToString(deterministic=True), data_sha256.encode()]
    return _digest(parts)


def client_upload_key(key: str) -> str:
    return f"key:{key}"


def content_upload_key(fingerprint: str) -> str:
    return f"content:{fingerprint}"


def file_id_for(upload_key: str) -> str:
    return hashlib.sha256(b"dmsim-file\0" + upload_key.encode()).hexdigest()[:32]


def item_id_for(file_id: str, index: int) -> str:
    return f"{file_id}-{index}"
