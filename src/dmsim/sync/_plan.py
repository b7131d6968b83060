"""Upload planning, all pure: idempotency keys, request splitting, upload metadata.

Idempotency keys. A key is derived from the file alone, so the same file always yields the same
keys: after a lost acknowledgement, a crash between acknowledgement and deletion, or a retry
after a failure, the resend carries the key the cloud already stored and is recognised.

- ``digest`` = SHA-256 over the part id (length-prefixed, so no part id/content pair can
  collide with another) followed by every byte of the file.
- An arbitrary file travels as one ``FileUpload``: key = ``<digest>/file-<identity>``, where
  the identity is a SHA-256 of the file's path and modification time. The content alone is
  not the file: two robots' identical ``status.json`` files, or one file recreated a day later
  with the same bytes, are different files, and a content-only key made the cloud keep one
  while sync deleted both. An unchanged file keeps its path and mtime, so a resend after a
  lost acknowledgement or a crash still carries the key the cloud holds.
- A capture file travels as one request per group of readings: key =
  ``<digest>/<start>-<stop>``, the half-open range of reading indices in the request. Naming the
  range rather than the request number means a resend after a change of ``max_request_bytes``
  (a reconfigure between attempts) can never alias a key to different readings: a changed split
  yields new keys (at worst a reading is stored twice), never a key the cloud already holds for
  other readings (which would drop them silently).

Request splitting (tabular files). rdk sends a whole file in one ``DataCaptureUpload`` with no
size guard. Here readings are packed greedily, in order, into requests whose serialized size
stays under the cap; a reading that alone exceeds it travels alone (the cloud decides).
The serialized size is exact protobuf arithmetic: each field costs its tag (1 byte), its
length varint, and its bytes.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from viam.proto.app.datasync import DataCaptureMetadata, DataType, UploadMetadata

from dmsim.config import MIME_EXTENSIONS
from dmsim.storage._codec import encode_uvarint, timestamp_from_ns

__all__ = [
    "MAX_UNARY_PAYLOAD_BYTES",
    "UPLOAD_CHUNK_BYTES",
    "ContentHasher",
    "RequestSplitter",
    "capture_key",
    "capture_upload_metadata",
    "field_size",
    "file_key",
    "file_upload_metadata",
    "merge_tags",
    "mime_for_extension",
    "sequence_key",
    "split_readings",
]

# rdk ``MaxUnaryFileSize = units.MB``: larger binary payloads go by StreamingDataCaptureUpload.
MAX_UNARY_PAYLOAD_BYTES = 1_000_000
# rdk ``UploadChunkSize``: chunk size for streaming and FileUpload.
UPLOAD_CHUNK_BYTES = 64 * 1024

# Only types that matter for capture and common arbitrary files; a fixed table, not the host's
# mime.types, so the same file gets the same metadata on every machine.
_MIME_BY_EXTENSION = {
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".pcd": "pointcloud/pcd",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
    ".json": "application/json",
    ".csv": "text/csv",
    ".txt": "text/plain",
    ".log": "text/plain",
}


class ContentHasher:
    """Streams a file's bytes into its idempotency digest."""

    def __init__(self, part_id: str) -> None:
        encoded = part_id.encode()
        self._sha = hashlib.sha256(encode_uvarint(len(encoded)) + encoded)

    def update(self, data: bytes | memoryview) -> None:
        self._sha.update(data)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def capture_key(digest: str, start: int, stop: int) -> str:
    """The key of the request carrying readings ``[start, stop)`` of a capture file."""
    return f"{digest}/{start}-{stop}"


def file_key(digest: str, path: str, mtime_ns: int) -> str:
    """The key of an arbitrary file's ``FileUpload``: its content and which file it is."""
    identity = hashlib.sha256(f"{path}\0{mtime_ns}".encode(errors="surrogateescape"))
    return f"{digest}/file-{identity.hexdigest()[:32]}"


def sequence_key(digest: str) -> str:
    """The key of a sequence file's ``CreateSequence``: its content (the digest carries the
    part id), so a resend after a lost acknowledgement is recognised."""
    return f"{digest}/sequence"


def field_size(payload_len: int) -> int:
    """Serialized size of one length-delimited protobuf field with a 1-byte tag."""
    return 1 + len(encode_uvarint(payload_len)) + payload_len


class RequestSplitter:
    """Greedy packing of readings (by serialized size) into requests under ``cap`` bytes.

    ``overhead`` is the part of every request that is not a reading (the metadata field).
    Feed sizes in file order with :meth:`add`; :attr:`ranges` is the result so far.
    """

    def __init__(self, *, cap: int, overhead: int) -> None:
        self._cap = cap
        self._overhead = overhead
        self._starts: list[int] = []
        self._count = 0
        self._current = 0

    def add(self, reading_size: int) -> bool:
        """Account one reading; ``True`` when it opens a new request."""
        cost = field_size(reading_size)
        opens = not self._starts or self._current + cost > self._cap
        if opens:
            self._starts.append(self._count)
            self._current = self._overhead
        self._current += cost
        self._count += 1
        return opens

    @property
    def ranges(self) -> list[tuple[int, int]]:
        """Half-open ``(start, stop)`` reading ranges, one per request."""
        if not self._starts:
            return []
        stops = [*self._starts[1:], self._count]
        return list(zip(self._starts, stops, strict=True))


def split_readings(sizes: Iterable[int], *, cap: int, overhead: int) -> list[tuple[int, int]]:
    """Split readings of the given serialized sizes into request ranges (see the module doc)."""
    splitter = RequestSplitter(cap=cap, overhead=overhead)
    for size in sizes:
        splitter.add(size)
    return splitter.ranges


def merge_tags(file_tags: Sequence[str], service_tags: Sequence[str]) -> list[str]:
    """The file's tags, then the service's tags it lacks, each once, order kept."""
    return list(dict.fromkeys([*file_tags, *service_tags]))


def mime_for_extension(extension: str) -> str:
    return _MIME_BY_EXTENSION.get(extension.lower(), "")


def capture_upload_metadata(
    metadata: DataCaptureMetadata, *, part_id: str, service_tags: Sequence[str]
) -> UploadMetadata:
    """rdk's ``uploadMetadata``: the capture header plus the part id and the service tags."""
    extension = metadata.file_extension or MIME_EXTENSIONS.get(metadata.mime_type, "")
    upload = UploadMetadata(
        part_id=part_id,
        component_type=metadata.component_type,
        component_name=metadata.component_name,
        method_name=metadata.method_name,
        type=metadata.type,
        file_extension=extension,
        tags=merge_tags(list(metadata.tags), service_tags),
        mime_type=metadata.mime_type or mime_for_extension(extension),
    )
    for name, value in metadata.method_parameters.items():
        upload.method_parameters[name].CopyFrom(value)
    return upload


@dataclass(frozen=True, slots=True)
class PathLabels:
    """``tag=<x>`` and ``dataset=<id>`` directory segments (rdk ``upload_arbitrary_file.go``)."""

    tags: tuple[str, ...]
    dataset_ids: tuple[str, ...]


def path_labels(path: str, root: str) -> PathLabels:
    """Labels from the directory segments between ``root`` and the file."""
    relative = posixpath.relpath(posixpath.dirname(path), root)
    tags: list[str] = []
    datasets: list[str] = []
    for segment in relative.split("/"):
        key, sep, value = segment.partition("=")
        if sep and value and key == "tag":
            tags.append(value)
        elif sep and value and key == "dataset":
            datasets.append(value)
    return PathLabels(tuple(tags), tuple(datasets))


def file_upload_metadata(
    path: str, *, root: str, part_id: str, service_tags: Sequence[str], mtime_ns: int
) -> UploadMetadata:
    """``FileUpload`` metadata of an arbitrary file (absolute path as the file name, as rdk)."""
    extension = posixpath.splitext(path)[1]
    labels = path_labels(path, root)
    upload = UploadMetadata(
        part_id=part_id,
        type=DataType.DATA_TYPE_FILE,
        file_name=path,
        file_extension=extension,
        tags=merge_tags(labels.tags, service_tags),
        dataset_ids=list(labels.dataset_ids),
        mime_type=mime_for_extension(extension),
    )
    upload.file_modify_time.CopyFrom(timestamp_from_ns(mtime_ns))
    return upload
