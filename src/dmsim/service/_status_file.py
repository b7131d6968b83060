"""``dmsim machine --status-file``: what ``DoCommand({"command": "status"})`` tells, for an
operator or a monitoring agent of a machine that has no DoCommand endpoint."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dmsim.errors import ConfigError, Problem

__all__ = ["StatusFile"]

_LOG = logging.getLogger(__name__)


class StatusFile:
    """The machine's status as one JSON object, replaced by a rename so that a reader never
    sees half a file. Not fsynced: it is rewritten at every status interval (keep it on a
    tmpfs such as ``/run``, not on an SD card). A write that fails is logged once, until one
    succeeds again, and the machine runs on: the status is not data."""

    def __init__(self, path: Path) -> None:
        if not path.parent.is_dir():
            raise ConfigError(Problem("--status-file", f"{path.parent}: no such directory"))
        if path.is_dir():
            raise ConfigError(Problem("--status-file", f"{path}: is a directory"))
        self.path = path
        self._temporary = path.with_name(f".{path.name}.tmp")
        self._failing = False

    def write(self, status: Mapping[str, Any]) -> None:
        try:
            # strict JSON (no Infinity) or nothing: monitoring agents parse it
            document = json.dumps({**status, "pid": os.getpid()}, indent=2, allow_nan=False)
            self._temporary.write_text(document + "\n", encoding="utf-8")
            os.replace(self._temporary, self.path)
        except (OSError, ValueError) as error:
            with contextlib.suppress(OSError):
                self._temporary.unlink()
            if not self._failing:
                reason = getattr(error, "strerror", None) or str(error)
                _LOG.warning("status file not written: %s: %s", self.path, reason)
            self._failing = True
            return
        if self._failing:
            _LOG.warning("status file written again: %s", self.path)
        self._failing = False
