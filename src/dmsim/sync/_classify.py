"""Error classification: what one failed upload attempt means for the file and the link.

Every attempt ends with an :class:`Outcome` (the transport port's vocabulary) and, when it did
not succeed, an :class:`ErrorClass` that decides what happens next:

================================  ===========  ========  ==========================================
error                             class        outcome   why
================================  ===========  ========  ==========================================
``CloudError INVALID_ARGUMENT``   terminal     fail      the cloud will refuse this file forever
``TerminalFileError``             terminal     fail      unparseable file, bad header, unknown data
  (raised while reading)                                 type, mixed or mismatched reading types
``StorageError`` (other)          terminal     fail      a damaged file never heals by waiting
                                                         (one caused by an ``OSError`` is
                                                         classified as that ``OSError``)
``CloudError UNAVAILABLE``        offline      fail      the link or the cloud is down for everyone
``CloudError UNAUTHENTICATED``,   offline      fail      the cloud refuses this machine's key: no
``PERMISSION_DENIED``                                    file can pass until an operator fixes it,
                                                         and retrying each file hammers the cloud
``ConnectionError`` (other)       offline      unknown   link down, connection refused: no call
                                                         gets through now; the request may have
                                                         landed before the link went down
``ConnectionResetError``,         retryable    unknown   the call broke mid-way (a reset, a lost
``ConnectionAbortedError``,                              acknowledgement's RST_STREAM) on a link
``BrokenPipeError``                                      that may be fine: only this file backs off
                                                         (a link really down refuses the retry,
                                                         which then pauses everything)
``CloudError DEADLINE_EXCEEDED``  retryable    unknown   may have committed (transport docstring)
``CloudError UNKNOWN``            retryable    unknown   may have committed
``TimeoutError``                  retryable    unknown   the client gave up; may have committed
``CloudError`` any other code     retryable    fail      RESOURCE_EXHAUSTED (cloud full, oversize),
                                                         INTERNAL, DATA_LOSS, ABORTED, ...
``FileChangedError``              retryable    fail      the file changed while it was sent; the
                                                         stream was aborted before commit
``FileNotFoundError``             gone         fail      deleted under us (policy, operator):
                                                         nothing left to retry
``OSError`` (other, local disk)   retryable    fail      EIO and friends may clear; keep the file
any other exception               retryable    unknown   a bug somewhere: never lose the file, never
                                                         kill the worker; outcome cannot be known
================================  ===========  ========  ==========================================

Differences from rdk (``exponential_retry.go`` ``terminalError``): a link down and a refused
key count as offline (rdk only treats gRPC ``Unavailable`` so, and backs off each file on its
own: a wrong key cost 120-220 attempts in 15 s on a backlog); a call broken mid-way does not,
where grpc-go reports it as ``Unavailable`` and rdk waits 60 s (one reset, or one lost
acknowledgement, held every upload back a minute on a working link); a vanished file is
dropped instead of retried forever, and an arbitrary file that changes mid-upload is detected
and resent under a new key.
``RESOURCE_EXHAUSTED`` stays retryable as in rdk because it also means "cloud storage full";
oversize tabular requests cannot happen here since requests are split under a size cap.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from enum import StrEnum

from dmsim.errors import CloudError, StorageError

__all__ = [
    "OFFLINE_CODES",
    "Classification",
    "ErrorClass",
    "FileChangedError",
    "Outcome",
    "TerminalFileError",
    "classify_error",
]


class Outcome(StrEnum):
    """How one upload attempt ended, as the client sees it (Jepsen's ok / fail / info)."""

    OK = "ok"
    FAIL = "fail"
    UNKNOWN = "unknown"


class ErrorClass(StrEnum):
    """What a failed attempt means for the next one."""

    TERMINAL = "terminal"  # move the file to failed/ with the reason
    OFFLINE = "offline"  # pause every upload for the offline interval
    RETRYABLE = "retryable"  # back off this file only
    GONE = "gone"  # the file no longer exists; forget it


class TerminalFileError(StorageError):
    """A file that can never be uploaded as it is (bad header, mixed reading types...)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class FileChangedError(StorageError):
    """The file's bytes changed between hashing and sending; the stream was aborted."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: changed while it was being uploaded")


@dataclass(frozen=True, slots=True)
class Classification:
    """``code`` is a gRPC status name or the exception type; ``reason`` is human text."""

    error_class: ErrorClass
    outcome: Outcome
    code: str
    reason: str


_UNKNOWN_OUTCOME_CODES = frozenset({"DEADLINE_EXCEEDED", "UNKNOWN"})
# the cloud's answers that pause every upload for the offline interval
OFFLINE_CODES = frozenset({"UNAVAILABLE", "UNAUTHENTICATED", "PERMISSION_DENIED"})
_BROKEN_MID_CALL = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def classify_error(error: BaseException) -> Classification:
    """Classify one exception raised by an upload attempt (see the module table)."""
    reason = str(error) or type(error).__name__
    if type(error) is StorageError and isinstance(error.__cause__, OSError):
        return classify_error(error.__cause__)  # "cannot open": a disk problem, not the file's
    if isinstance(error, CloudError):  # its text starts with the code, which the verdict has
        return _classify_cloud(error.code, reason.removeprefix(f"{error.code}: "))
    if isinstance(error, TerminalFileError):
        return Classification(ErrorClass.TERMINAL, Outcome.FAIL, "LOCAL_INVALID", error.reason)
    if isinstance(error, FileChangedError):
        return Classification(ErrorClass.RETRYABLE, Outcome.FAIL, "LOCAL_CHANGED", reason)
    if isinstance(error, StorageError):
        return Classification(ErrorClass.TERMINAL, Outcome.FAIL, "LOCAL_INVALID", reason)
    if isinstance(error, _BROKEN_MID_CALL):
        return Classification(ErrorClass.RETRYABLE, Outcome.UNKNOWN, type(error).__name__, reason)
    if isinstance(error, ConnectionError):
        return Classification(ErrorClass.OFFLINE, Outcome.UNKNOWN, type(error).__name__, reason)
    if isinstance(error, TimeoutError):
        return Classification(ErrorClass.RETRYABLE, Outcome.UNKNOWN, "TimeoutError", reason)
    if isinstance(error, FileNotFoundError):
        return Classification(ErrorClass.GONE, Outcome.FAIL, "ENOENT", reason)
    if isinstance(error, OSError):
        return Classification(ErrorClass.RETRYABLE, Outcome.FAIL, _errno_name(error), reason)
    return Classification(ErrorClass.RETRYABLE, Outcome.UNKNOWN, type(error).__name__, reason)


def _classify_cloud(code: str, reason: str) -> Classification:
    if code == "INVALID_ARGUMENT":
        return Classification(ErrorClass.TERMINAL, Outcome.FAIL, code, reason)
    if code in OFFLINE_CODES:
        return Classification(ErrorClass.OFFLINE, Outcome.FAIL, code, reason)
    if code in _UNKNOWN_OUTCOME_CODES:
        return Classification(ErrorClass.RETRYABLE, Outcome.UNKNOWN, code, reason)
    return Classification(ErrorClass.RETRYABLE, Outcome.FAIL, code, reason)


def _errno_name(error: OSError) -> str:
    return errno.errorcode.get(error.errno or 0, "OSError")
