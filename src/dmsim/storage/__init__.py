"""Where data lives between capture and the cloud.

- Capture files, Viam wire-compatible (varint-framed ``DataCaptureMetadata`` + ``SensorData``):
  :class:`CaptureWriter` (rotation, durability window, flush → fsync → rename → dir fsync),
  :class:`CaptureReader` (streaming; torn tails reported, damage named by file and offset),
  :func:`recover_capture_dir` (orphaned ``.prog`` → ``.capture``, or ``failed/`` with a reason),
  inspect/verify, and the MCAP exporter.
- Reading identities (:class:`ReadingId`), carried in field 71000 that Viam's parsers skip,
  and each file's creation stamp (its header's field 71001: ``_creation``).
- The filesystem port (:class:`FileSystem`) with :class:`RealFS` and the crash-faulting
  :class:`SimFS`.
- Disk policies: the documented disk-full rule and a byte cap (:class:`DiskPolicy`).
"""

from ._codec import (
    CaptureFormatError,
    NoMetadataError,
    binary_reading,
    tabular_reading,
)
from ._fs import DiskUsage, FileHandle, FileStat, FileSystem, ReadHandle, append_durably
from ._identity import IDENTITY_FIELD_NUMBER, ReadingId, identity_from_bytes, identity_of
from ._inspect import FileProblem, FileReport, VerifyReport, inspect_path, verify_dir
from ._mcap_export import ExportReport, export_mcap
from ._naming import CAPTURE_EXT, FAILED_DIR, PROG_EXT, CollectorKey, parse_capture_name
from ._policies import ByteCapRule, DeletionPlan, DeletionRecord, DiskFullRule
from ._policy_runner import DiskPolicy, DiskPolicyStatistics
from ._reader import CaptureReader, CaptureRecord, read_capture_file
from ._realfs import RealFS
from ._recovery import RecoveryReport, recover_capture_dir, recover_progs
from ._simfs import SimFS
from ._simfs_faults import CrashReport
from ._writer import CaptureWriteError, CaptureWriter, ClosedFile, WriterStatistics

__all__ = [
    "CAPTURE_EXT",
    "FAILED_DIR",
    "IDENTITY_FIELD_NUMBER",
    "PROG_EXT",
    "ByteCapRule",
    "CaptureFormatError",
    "CaptureReader",
    "CaptureRecord",
    "CaptureWriteError",
    "CaptureWriter",
    "ClosedFile",
    "CollectorKey",
    "CrashReport",
    "DeletionPlan",
    "DeletionRecord",
    "DiskFullRule",
    "DiskPolicy",
    "DiskPolicyStatistics",
    "DiskUsage",
    "ExportReport",
    "FileHandle",
    "FileProblem",
    "FileReport",
    "FileStat",
    "FileSystem",
    "NoMetadataError",
    "ReadHandle",
    "ReadingId",
    "RealFS",
    "RecoveryReport",
    "SimFS",
    "VerifyReport",
    "WriterStatistics",
    "append_durably",
    "binary_reading",
    "export_mcap",
    "identity_from_bytes",
    "identity_of",
    "inspect_path",
    "parse_capture_name",
    "read_capture_file",
    "recover_capture_dir",
    "recover_progs",
    "tabular_reading",
    "verify_dir",
]
