"""dmsim's public test kit: conformance suites that every backend, and a user's own, must pass."""

from ._fs_conformance import check_filesystem

__all__ = ["check_filesystem"]
