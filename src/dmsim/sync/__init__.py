"""The sync engine: uploads completed capture files and arbitrary files to DataSyncService.

Decisions are pure and importable on their own: :func:`next_wait` (backoff with jitter),
:func:`classify_error` (terminal / offline / retryable / gone, and ok / fail / unknown),
:func:`is_ready` and :func:`walk_candidates` (file selection), :func:`split_readings` and
:func:`capture_key` (request planning and idempotency keys), :func:`next_step` (what to do with
a file after an attempt). :class:`SyncEngine` wires them to the runtime, filesystem and cloud
transport ports.
"""

from dmsim.storage._quarantine import REASON_SUFFIX, failed_destination

from ._backoff import DEFAULT_BACKOFF, BackoffPolicy, RandomSource, backoff_ceiling, next_wait
from ._classify import (
    OFFLINE_CODES,
    Classification,
    ErrorClass,
    FileChangedError,
    Outcome,
    TerminalFileError,
    classify_error,
)
from ._engine import SyncEngine
from ._plan import (
    MAX_UNARY_PAYLOAD_BYTES,
    UPLOAD_CHUNK_BYTES,
    ContentHasher,
    RequestSplitter,
    capture_key,
    capture_upload_metadata,
    file_upload_metadata,
    split_readings,
)
from ._retry import RetryBook, RetryState
from ._select import (
    Candidate,
    FileKind,
    QuietClock,
    SyncRoot,
    file_kind,
    is_ready,
    sync_roots,
    walk_candidates,
)
from ._settings import DEFAULT_MAX_REQUEST_BYTES, SyncSettings, default_sync_threads
from ._stats import (
    LOOK_SPACING_TOLD_OVER,
    STALE_WARN_EVERY_S,
    SyncReport,
    SyncStatistics,
    backlog_look_every_s,
    stale_threshold_s,
    stale_warning_due,
)
from ._steps import Step, StepKind, next_step
from ._tracker import InUseTracker, TrackerStatistics
from ._transport import (
    IDEMPOTENCY_HEADER,
    CloudTransport,
    DataCaptureRequest,
    request_bytes,
    request_message,
)
from ._upload import FileUploader, UploadResult, UploadStatus

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_REQUEST_BYTES",
    "IDEMPOTENCY_HEADER",
    "LOOK_SPACING_TOLD_OVER",
    "MAX_UNARY_PAYLOAD_BYTES",
    "OFFLINE_CODES",
    "REASON_SUFFIX",
    "STALE_WARN_EVERY_S",
    "UPLOAD_CHUNK_BYTES",
    "BackoffPolicy",
    "Candidate",
    "Classification",
    "CloudTransport",
    "ContentHasher",
    "DataCaptureRequest",
    "ErrorClass",
    "FileChangedError",
    "FileKind",
    "FileUploader",
    "InUseTracker",
    "Outcome",
    "QuietClock",
    "RandomSource",
    "RequestSplitter",
    "RetryBook",
    "RetryState",
    "Step",
    "StepKind",
    "SyncEngine",
    "SyncReport",
    "SyncRoot",
    "SyncSettings",
    "SyncStatistics",
    "TerminalFileError",
    "TrackerStatistics",
    "UploadResult",
    "UploadStatus",
    "backlog_look_every_s",
    "backoff_ceiling",
    "capture_key",
    "capture_upload_metadata",
    "classify_error",
    "default_sync_threads",
    "failed_destination",
    "file_kind",
    "file_upload_metadata",
    "is_ready",
    "next_step",
    "next_wait",
    "request_bytes",
    "request_message",
    "split_readings",
    "stale_threshold_s",
    "stale_warning_due",
    "sync_roots",
    "walk_candidates",
]
