"""Make RealFS meet a directory it cannot list, as a user without the permission would: tests
run as root here, which ``chmod 000`` does not stop."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest


def deny_listing(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    real_scandir = os.scandir

    def scandir(path: str = ".") -> Iterator[os.DirEntry[str]]:
        if os.fspath(path) == str(directory):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
