"""The public surface of ``dmsim.sync``: pinned, so a change to it is a decision."""

from __future__ import annotations

import dmsim.sync

PUBLIC = {
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
    "QuietClock",
    "Outcome",
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
}


def test_public_names_are_pinned_and_importable() -> None:
    assert set(dmsim.sync.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(dmsim.sync, name) is not None
        assert not name.startswith("_")
