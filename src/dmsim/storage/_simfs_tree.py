"""SimFS namespace: inodes, directories with pending (unsynced) names, lookups and walks.

A directory keeps its live entries and, for each name changed since its last ``fsync_dir``, the
entry that name had at that fsync (``pending``; ``None`` = absent). The durable view of a
directory is its live entries overlaid with ``pending``, so fsyncs and changes cost O(changes),
never O(directory size). ``revert()`` (a power cut) puts every pending name back.

Link counts live here; space accounting does not: operations that drop a file's last name return
that file so the owner of the space can free it.
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable, Iterator

__all__ = ["Dir", "File", "Node", "Tree", "fs_error"]


def fs_error(code: int, path: str) -> OSError:
    """An ``OSError`` with a real errno (Python picks the subclass, e.g. FileNotFoundError)."""
    return OSError(code, os.strerror(code), path)


class File:
    """A regular file: live bytes, of which the first ``durable_len`` survive a power cut."""

    __slots__ = ("data", "durable_len", "ino", "mtime_ns", "nlink", "opens")

    def __init__(self, ino: int, mtime_ns: int) -> None:
        self.ino = ino
        self.data = bytearray()
        self.durable_len = 0
        self.mtime_ns = mtime_ns
        self.nlink = 0  # live directory entries naming it
        self.opens = 0  # open handles; its space is freed when both reach zero


class Dir:
    """A directory: live entries, plus the entry each changed name had at the last fsync."""

    __slots__ = ("entries", "ino", "mtime_ns", "pending")

    def __init__(self, ino: int, mtime_ns: int) -> None:
        self.ino = ino
        self.mtime_ns = mtime_ns
        self.entries: dict[str, Node] = {}
        self.pending: dict[str, Node | None] = {}


Node = File | Dir


def join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent != "/" else f"/{name}"


class Tree:
    """The directory tree of one SimFS. Paths are absolute; ``..`` and ``//`` are normalised."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._next_ino = 0
        self.root = Dir(self._new_ino(), clock())
        self._dirty: dict[int, Dir] = {}  # directories with pending names, in change order

    def _new_ino(self) -> int:
        self._next_ino += 1
        return self._next_ino

    @staticmethod
    def split(path: str) -> list[str]:
        if not path.startswith("/"):
            raise ValueError(f"SimFS paths must be absolute, got {path!r}")
        if "//" in path or "/." in path or path.endswith("/"):
            return [part for part in posixpath.normpath(path).split("/") if part]
        return path[1:].split("/")  # already clean: the common case, kept cheap

    def lookup(self, parts: list[str], path: str) -> Node:
        node: Node = self.root
        for name in parts:
            if not isinstance(node, Dir):
                raise fs_error(errno.ENOTDIR, path)
            child = node.entries.get(name)
            if child is None:
                raise fs_error(errno.ENOENT, path)
            node = child
        return node

    def node(self, path: str) -> Node:
        return self.lookup(self.split(path), path)

    def directory(self, path: str) -> Dir:
        node = self.node(path)
        if not isinstance(node, Dir):
            raise fs_error(errno.ENOTDIR, path)
        return node

    def parent(self, path: str) -> tuple[Dir, str, str]:
        """The parent directory, the last name, and the canonical path."""
        parts = self.split(path)
        if not parts:
            raise fs_error(errno.EBUSY, path)
        parent = self.lookup(parts[:-1], path)
        if not isinstance(parent, Dir):
            raise fs_error(errno.ENOTDIR, path)
        return parent, parts[-1], "/" + "/".join(parts)

    def _set(self, parent: Dir, name: str, node: Node | None) -> None:
        """Change one live entry, remembering its durable value until the next fsync."""
        if name not in parent.pending:
            parent.pending[name] = parent.entries.get(name)
            self._dirty[parent.ino] = parent
        old = parent.entries.get(name)
        if node is None:
            del parent.entries[name]
        else:
            parent.entries[name] = node
            if isinstance(node, File):
                node.nlink += 1
        if isinstance(old, File):
            old.nlink -= 1

    def create(self, parent: Dir, name: str) -> File:
        file = File(self._new_ino(), self._clock())
        self._set(parent, name, file)
        return file

    def rename(self, src: str, dst: str) -> File | None:
        """``rename(2)`` on the live tree; returns the file it displaced, if any."""
        src_parent, src_name, src_path = self.parent(src)
        dst_parent, dst_name, dst_path = self.parent(dst)
        node = src_parent.entries.get(src_name)
        if node is None:
            raise fs_error(errno.ENOENT, src)
        target = dst_parent.entries.get(dst_name)
        if target is node:
            return None
        if isinstance(node, Dir):
            if dst_path.startswith(src_path + "/"):
                raise fs_error(errno.EINVAL, dst)
            if isinstance(target, File):
                raise fs_error(errno.ENOTDIR, dst)
            if isinstance(target, Dir) and target.entries:
                raise fs_error(errno.ENOTEMPTY, dst)
        elif isinstance(target, Dir):
            raise fs_error(errno.EISDIR, dst)
        self._set(dst_parent, dst_name, node)
        self._set(src_parent, src_name, None)
        return target if isinstance(target, File) else None

    def unlink(self, path: str) -> File:
        parent, name, _ = self.parent(path)
        node = parent.entries.get(name)
        if node is None:
            raise fs_error(errno.ENOENT, path)
        if isinstance(node, Dir):
            raise fs_error(errno.EISDIR, path)
        self._set(parent, name, None)
        return node

    def makedirs(self, path: str) -> None:
        parts = self.split(path)
        node = self.root
        for depth, name in enumerate(parts, start=1):
            child = node.entries.get(name)
            if child is None:
                child = Dir(self._new_ino(), self._clock())
                node.entries[name] = child
                # Durable at once (the port's contract): nothing for this name to revert to.
                node.pending.pop(name, None)
            elif isinstance(child, File):
                raise fs_error(errno.EEXIST if depth == len(parts) else errno.ENOTDIR, path)
            node = child

    def sync(self, directory: Dir) -> None:
        directory.pending.clear()
        self._dirty.pop(directory.ino, None)

    def revert(self) -> None:
        """Power cut: every directory's names go back to their state at its last fsync."""
        for directory in self._dirty.values():
            for name, durable in directory.pending.items():
                if durable is None:
                    directory.entries.pop(name, None)
                else:
                    directory.entries[name] = durable
            directory.pending.clear()
        self._dirty.clear()

    def walk(self, path: str, node: Dir) -> Iterator[tuple[str, list[str], list[str]]]:
        names = sorted(node.entries)
        dirnames = [n for n in names if isinstance(node.entries[n], Dir)]
        filenames = [n for n in names if isinstance(node.entries[n], File)]
        yield path, dirnames, filenames
        for name in dirnames:  # the caller may have pruned it in place
            child = node.entries.get(name)
            if isinstance(child, Dir):
                yield from self.walk(join(path, name), child)

    def files(self) -> dict[str, File]:
        """Every reachable file by path, depth first in name order (deterministic)."""
        found: dict[str, File] = {}
        self._collect("/", self.root, found)
        return found

    def _collect(self, path: str, directory: Dir, found: dict[str, File]) -> None:
        for name in sorted(directory.entries):
            child = directory.entries[name]
            if isinstance(child, File):
                found[join(path, name)] = child
            else:
                self._collect(join(path, name), child, found)
