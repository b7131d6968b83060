"""Sync settings: the ``data_manager`` attributes the sync engine reads, validated.

The config layer resolves Viam's defaults (``sync_interval_mins`` < 0.0001 → 0.1, ``file_last_
modified_millis`` ≤ 0 → 10000, ``maximum_num_sync_threads`` unset → ``max(1, cpus // 2)``) and
turns the interval into seconds truncated to whole milliseconds, as rdk's ticker does, before
building these; here every value must already be meaningful, and a bad one is a
:class:`~dmsim.errors.ConfigError` naming the attribute.

``max_request_bytes`` caps one ``DataCaptureUpload`` request of a tabular file (rdk sends a
whole file in one request with no guard; a large ``maximum_capture_file_size_bytes`` then
exceeds gRPC's 4 MiB default receive limit and fails with ``RESOURCE_EXHAUSTED`` forever).
The default, 1 MiB, is a quarter of that limit, leaving room for headers and metadata, and
matches the binary unary/streaming cut-over (``MaxUnaryFileSize`` = 1,000,000 bytes).
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass

from dmsim.errors import ConfigError, Problem

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "MIN_MAX_REQUEST_BYTES",
    "SyncSettings",
    "default_sync_threads",
]

DEFAULT_MAX_REQUEST_BYTES = 1 << 20
# Below this a request could not even hold its metadata plus one small reading.
MIN_MAX_REQUEST_BYTES = 1024


def default_sync_threads(cpu_count: int | None) -> int:
    """rdk's ``NumCPU() / 2``, but never 0: one CPU must still get one sync worker."""
    return max(1, (cpu_count or 1) // 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncSettings:
    """What the sync engine needs from the machine config (``data_manager`` attributes)."""

    capture_dir: str
    part_id: str
    additional_sync_paths: tuple[str, ...] = ()
    # capture directories of earlier configs, synced like capture_dir (their backlog)
    former_capture_dirs: tuple[str, ...] = ()
    sync_interval_s: float = 6.0
    file_last_modified_millis: int = 10_000
    maximum_num_sync_threads: int = 1
    sync_disabled: bool = False
    tags: tuple[str, ...] = ()
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    # None: rdk's rule, max(10 × interval, 3 min); 0: no warning
    stale_data_warning_s: float | None = None

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError(problems, source="sync settings")

    def problems(self) -> list[Problem]:
        """Every invalid attribute, named by the ``data_manager`` attribute it comes from
        (``max_request_bytes`` is ``max_upload_message_bytes``)."""
        where = "services.data_manager.attributes"
        out: list[Problem] = []
        for name, path in [
            ("capture_dir", self.capture_dir),
            *((f"additional_sync_paths[{i}]", p) for i, p in enumerate(self.additional_sync_paths)),
            *((f"former_capture_dirs[{i}]", p) for i, p in enumerate(self.former_capture_dirs)),
        ]:
            if not isinstance(path, str) or not posixpath.isabs(path):
                out.append(Problem(f"{where}.{name}", f"must be an absolute path, got {path!r}"))
        if not isinstance(self.part_id, str) or not self.part_id:
            # An empty part id makes the cloud answer INVALID_ARGUMENT, which is terminal:
            # every file would be quarantined. Refuse it here instead.
            out.append(Problem(f"{where}.part_id", "must be a non-empty string"))
        if not _positive_finite(self.sync_interval_s):
            out.append(
                Problem(
                    f"{where}.sync_interval_mins",
                    "the interval must be a finite number of seconds > 0, "
                    f"got {self.sync_interval_s!r}",
                )
            )
        if not _int_at_least(self.file_last_modified_millis, 0):
            out.append(
                Problem(
                    f"{where}.file_last_modified_millis",
                    f"must be a whole number of milliseconds >= 0, "
                    f"got {self.file_last_modified_millis!r}",
                )
            )
        if not _int_at_least(self.maximum_num_sync_threads, 1):
            out.append(
                Problem(
                    f"{where}.maximum_num_sync_threads",
                    f"must be a whole number >= 1, got {self.maximum_num_sync_threads!r}",
                )
            )
        if not _int_at_least(self.max_request_bytes, MIN_MAX_REQUEST_BYTES):
            out.append(
                Problem(
                    f"{where}.max_upload_message_bytes",
                    f"must be a whole number of bytes >= {MIN_MAX_REQUEST_BYTES}, "
                    f"got {self.max_request_bytes!r}",
                )
            )
        for i, tag in enumerate(self.tags):
            if not isinstance(tag, str) or not tag:
                out.append(
                    Problem(f"{where}.tags[{i}]", f"must be a non-empty string, got {tag!r}")
                )
        return out


def _positive_finite(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _int_at_least(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum
