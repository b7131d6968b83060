"""After an upload attempt: what to do with the file (a pure decision table).

=========================  =====================  =============================================
upload result              step                   effect
=========================  =====================  =============================================
uploaded                   delete                 unlink + fsync dir; ``sync.deleted``
header only                delete                 nothing to send (rdk deletes unsent too)
torn tail                  quarantine             readings before the tail were acknowledged;
                                                  the file goes to ``failed/`` as evidence
damage after readings      quarantine             the same: readings before it acknowledged
changed after its upload   keep                   new content: a later pass sends it, new key
written to since the walk  wait                   not sent; a later pass looks at it again
failed: terminal           quarantine             ``failed/`` with the reason; ``sync.failed``
failed: gone               forget                 deleted under us (policy, operator)
failed: offline            pause                  every upload waits the offline interval
failed: retryable          back off               this file waits; others keep flowing
=========================  =====================  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ._classify import Classification, ErrorClass, classify_error
from ._upload import UploadResult, UploadStatus

__all__ = ["Step", "StepKind", "next_step"]


class StepKind(StrEnum):
    DELETE = "delete"
    QUARANTINE = "quarantine"
    KEEP = "keep"
    WAIT = "wait"
    FORGET = "forget"
    PAUSE = "pause"
    BACK_OFF = "back_off"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    reason: str = ""
    verdict: Classification | None = None


_BY_CLASS = {
    ErrorClass.TERMINAL: StepKind.QUARANTINE,
    ErrorClass.GONE: StepKind.FORGET,
    ErrorClass.OFFLINE: StepKind.PAUSE,
    ErrorClass.RETRYABLE: StepKind.BACK_OFF,
}


def next_step(result: UploadResult) -> Step:
    if result.status in (UploadStatus.UPLOADED, UploadStatus.HEADER_ONLY):
        return Step(StepKind.DELETE)
    if result.status is UploadStatus.TORN:
        return Step(
            StepKind.QUARANTINE,
            f"torn tail of {result.torn_tail_bytes} bytes after {result.readings} readings "
            "(those readings were uploaded)",
        )
    if result.status is UploadStatus.DAMAGED:
        return Step(
            StepKind.QUARANTINE,
            f"{result.damage} (the {result.readings} readings before it were uploaded)",
        )
    if result.status is UploadStatus.CHANGED:
        return Step(StepKind.KEEP, "changed while it was being uploaded")
    if result.status is UploadStatus.NOT_READY:
        return Step(StepKind.WAIT, "written to since the walk")
    if result.error is None:
        raise ValueError(f"an upload result with status {result.status} needs its error")
    verdict = classify_error(result.error)
    reason = f"{verdict.code}: {verdict.reason}"
    return Step(_BY_CLASS[verdict.error_class], reason, verdict)
