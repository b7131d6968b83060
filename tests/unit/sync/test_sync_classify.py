"""Error classification and the after-attempt decision table."""

from __future__ import annotations

import errno

import pytest

from dmsim.errors import CloudError, StorageError
from dmsim.storage._codec import CaptureFormatError, NoMetadataError
from dmsim.sync import (
    ErrorClass,
    FileChangedError,
    Outcome,
    StepKind,
    TerminalFileError,
    UploadResult,
    UploadStatus,
    classify_error,
    next_step,
)

CASES = [
    (CloudError("INVALID_ARGUMENT", "bad"), ErrorClass.TERMINAL, Outcome.FAIL, "INVALID_ARGUMENT"),
    (CloudError("UNAVAILABLE", "down"), ErrorClass.OFFLINE, Outcome.FAIL, "UNAVAILABLE"),
    (CloudError("DEADLINE_EXCEEDED", "slow"), ErrorClass.RETRYABLE, Outcome.UNKNOWN, None),
    (CloudError("UNKNOWN", "?"), ErrorClass.RETRYABLE, Outcome.UNKNOWN, "UNKNOWN"),
    (CloudError("RESOURCE_EXHAUSTED", "full"), ErrorClass.RETRYABLE, Outcome.FAIL, None),
    (CloudError("UNAUTHENTICATED", "key"), ErrorClass.OFFLINE, Outcome.FAIL, None),
    (CloudError("PERMISSION_DENIED", "no"), ErrorClass.OFFLINE, Outcome.FAIL, None),
    (CloudError("INTERNAL", "oops"), ErrorClass.RETRYABLE, Outcome.FAIL, None),
    (CloudError("DATA_LOSS", "oops"), ErrorClass.RETRYABLE, Outcome.FAIL, None),
    (ConnectionError("down"), ErrorClass.OFFLINE, Outcome.UNKNOWN, "ConnectionError"),
    (ConnectionRefusedError("no"), ErrorClass.OFFLINE, Outcome.UNKNOWN, "ConnectionRefusedError"),
    # a call broken mid-way: the link may be fine, so only this file backs off
    (ConnectionResetError("rst"), ErrorClass.RETRYABLE, Outcome.UNKNOWN, "ConnectionResetError"),
    (ConnectionAbortedError("x"), ErrorClass.RETRYABLE, Outcome.UNKNOWN, "ConnectionAbortedError"),
    (BrokenPipeError("pipe"), ErrorClass.RETRYABLE, Outcome.UNKNOWN, "BrokenPipeError"),
    (TimeoutError("late"), ErrorClass.RETRYABLE, Outcome.UNKNOWN, "TimeoutError"),
    (FileNotFoundError(errno.ENOENT, "gone"), ErrorClass.GONE, Outcome.FAIL, "ENOENT"),
    (OSError(errno.EIO, "disk"), ErrorClass.RETRYABLE, Outcome.FAIL, "EIO"),
    (TerminalFileError("/f", "bad header"), ErrorClass.TERMINAL, Outcome.FAIL, "LOCAL_INVALID"),
    (CaptureFormatError("/f", 12, "junk"), ErrorClass.TERMINAL, Outcome.FAIL, "LOCAL_INVALID"),
    (NoMetadataError("/f", 0, "empty"), ErrorClass.TERMINAL, Outcome.FAIL, "LOCAL_INVALID"),
    (FileChangedError("/f"), ErrorClass.RETRYABLE, Outcome.FAIL, "LOCAL_CHANGED"),
    (RuntimeError("bug"), ErrorClass.RETRYABLE, Outcome.UNKNOWN, "RuntimeError"),
]


@pytest.mark.parametrize(("error", "error_class", "outcome", "code"), CASES)
def test_classification_table(
    error: BaseException, error_class: ErrorClass, outcome: Outcome, code: str | None
) -> None:
    verdict = classify_error(error)
    assert (verdict.error_class, verdict.outcome) == (error_class, outcome)
    assert verdict.code == (code or getattr(error, "code", None))
    assert verdict.reason


def test_a_storage_error_caused_by_the_disk_is_classified_as_the_disk_error() -> None:
    def cannot_open(cause: OSError) -> StorageError:
        try:
            raise StorageError("cannot open") from cause
        except StorageError as error:
            return error

    gone = cannot_open(FileNotFoundError(errno.ENOENT, "gone"))
    assert classify_error(gone).error_class is ErrorClass.GONE
    eio = cannot_open(OSError(errno.EIO, "io"))
    assert classify_error(eio).error_class is ErrorClass.RETRYABLE


def result(status: UploadStatus, error: BaseException | None = None) -> UploadResult:
    return UploadResult(status, frozenset({"k"}), readings=7, torn_tail_bytes=33, error=error)


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (UploadStatus.UPLOADED, None, StepKind.DELETE),
        (UploadStatus.HEADER_ONLY, None, StepKind.DELETE),
        (UploadStatus.TORN, None, StepKind.QUARANTINE),
        (UploadStatus.CHANGED, None, StepKind.KEEP),
        (UploadStatus.FAILED, CloudError("INVALID_ARGUMENT", "x"), StepKind.QUARANTINE),
        (UploadStatus.FAILED, FileNotFoundError(errno.ENOENT, "x"), StepKind.FORGET),
        (UploadStatus.FAILED, CloudError("UNAVAILABLE", "x"), StepKind.PAUSE),
        (UploadStatus.FAILED, TimeoutError("x"), StepKind.BACK_OFF),
    ],
)
def test_next_step_table(status: UploadStatus, error: BaseException | None, kind: StepKind) -> None:
    assert next_step(result(status, error)).kind is kind


def test_quarantine_reasons_say_why() -> None:
    torn = next_step(result(UploadStatus.TORN))
    assert "33 bytes" in torn.reason
    assert "7 readings" in torn.reason
    bad = next_step(result(UploadStatus.FAILED, CloudError("INVALID_ARGUMENT", "empty part")))
    assert bad.reason == "INVALID_ARGUMENT: empty part"  # the code once, not twice


def test_a_failed_result_needs_its_error() -> None:
    with pytest.raises(ValueError, match="needs its error"):
        next_step(result(UploadStatus.FAILED))
