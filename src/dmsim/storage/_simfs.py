"""SimFS: an in-memory, deterministic filesystem with a power-cut model and injected faults.

Theory of operation. Files and directories are inodes; a directory maps names to inodes. Two
states coexist, as in a kernel's page cache over a disk:

- *Live* state is what every call sees: the file bytes and the directory entries as last
  changed.
- *Durable* state is what a power cut keeps. A file's durable data is a prefix of its live data
  (files are append-only), ``durable_len`` bytes long, advanced by ``FileHandle.fsync``. A
  directory's durable entries differ from its live entries only for the names changed since its
  last ``fsync_dir``; each directory keeps, per changed name, the entry it had at that fsync
  (``pending``), so ``fsync_dir`` and writes cost O(changes), never O(directory size).
  ``makedirs`` is durable at once (the port's contract).

:meth:`SimFS.crash` is a power cut: every directory's changed names revert, files no longer
reachable vanish (a create never made durable), and every reachable file keeps its durable
prefix plus, when the crash tears, a seeded whole-block prefix of its pending bytes: the kept
length is drawn uniformly among the durable length, each block boundary between it and the live
length, and the live length. Per-directory durability means a cross-directory rename whose source
directory was never fsynced can leave the file under both names after a crash (POSIX allows it;
recovery must tolerate it). Every open handle dies with the crash. A crash of one *process* is
different: the page cache survives, so its bytes stay pending and only that process's view
(:meth:`SimFS.for_process`) stops working.

Space: usage is every live file's size rounded up to whole blocks, plus the ballast (a stand-in
for other files on the disk); an unlinked file still counts while a handle holds it open;
directories take no space. A write that does not fit appends the prefix that does (the slack of
its last block plus whole free blocks) and then raises ``ENOSPC``, as ``write(2)`` does on a real
disk (a short count, then ``ENOSPC``); the writer above must survive a torn tail either way.
Writes cost O(len(data)); nothing is traced per write, only faults, disk-full transitions,
capacity and ballast changes, and crashes.

Not modelled: reordering of pending blocks (a crash keeps a prefix, never a hole), Linux's
"fsyncgate" (after a failed fsync the kernel may drop dirty pages; here they stay pending),
silent corruption, latency.
"""

from __future__ import annotations

import errno
import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from dmsim.errors import Problem, ScenarioError

from ._fs import DiskUsage, FileStat, FileSystem
from ._simfs_faults import CrashedFile, CrashReport, EioFault, FaultTable, torn_length
from ._simfs_handles import ProcessView, SimFileHandle, SimReadHandle
from ._simfs_tree import Dir, File, Tree, fs_error

if TYPE_CHECKING:
    from dmsim.runtime import RngTree, SimRuntime, Trace

__all__ = ["SimFS", "SimFSStatistics"]


@dataclass(frozen=True, slots=True)
class SimFSStatistics:
    bytes_written: int
    writes: int
    fsyncs: int
    dir_fsyncs: int
    files_created: int
    files_deleted: int
    renames: int
    faults_fired: int
    enospc_errors: int
    crashes: int
    bytes_dropped_by_crashes: int
    used_bytes: int
    high_water_bytes: int


@dataclass(slots=True)
class _Counters:
    bytes_written: int = 0
    writes: int = 0
    fsyncs: int = 0
    dir_fsyncs: int = 0
    files_created: int = 0
    files_deleted: int = 0
    renames: int = 0
    enospc_errors: int = 0
    crashes: int = 0
    bytes_dropped_by_crashes: int = 0
    high_water_bytes: int = 0


def _blocks(size: int, block_size: int) -> int:
    return -(-size // block_size)


def _positive(name: str, value: int, *, source: str, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        need = "cannot be negative" if allow_zero else "must be positive"
        raise ScenarioError(Problem(name, f"{need}, got {value}"), source=source)


class SimFS:
    """The :class:`~dmsim.storage.FileSystem` port in memory, with durability and faults.

    ``rng`` seeds torn writes (child ``crash``) and probabilistic faults (``eio/<fault_id>``);
    ``wall_clock`` (ns since the epoch) stamps mtimes; ``trace`` receives faults, disk-full
    transitions, ballast and capacity changes, and power cuts.
    """

    def __init__(
        self,
        *,
        capacity_bytes: int,
        rng: RngTree,
        wall_clock: Callable[[], int],
        block_size: int = 4096,
        initial_fill_bytes: int = 0,
        trace: Trace | None = None,
    ) -> None:
        _positive("capacity_bytes", capacity_bytes, source="SimFS")
        _positive("block_size", block_size, source="SimFS")
        _positive("initial_fill_bytes", initial_fill_bytes, source="SimFS", allow_zero=True)
        self._capacity = capacity_bytes
        self._block = block_size
        self._ballast = initial_fill_bytes
        self._clock = wall_clock
        self._trace = trace
        self._crash_rng = rng.child("crash").random()
        self._faults = FaultTable(rng, trace)
        self._tree = Tree(wall_clock)
        self._generation = 0  # bumped by every power cut: handles from before it are dead
        self._used_blocks = 0
        self._full_traced = False  # ENOSPC is traced once until space is freed again
        self._c = _Counters(high_water_bytes=initial_fill_bytes)

    # -- namespace -----------------------------------------------------------------------

    def open_append(self, path: str) -> SimFileHandle:
        return self._open_append(path, None)

    def _open_append(self, path: str, owner: SimRuntime | None) -> SimFileHandle:
        parent, name, canonical = self._tree.parent(path)
        self._faults.check("open", canonical)
        node = parent.entries.get(name)
        if node is None:
            node = self._tree.create(parent, name)
            self._c.files_created += 1
        elif isinstance(node, Dir):
            raise fs_error(errno.EISDIR, path)
        return SimFileHandle(self, node, canonical, owner)

    def open_read(self, path: str) -> SimReadHandle:
        return self._open_read(path, None)

    def _open_read(self, path: str, owner: SimRuntime | None) -> SimReadHandle:
        parent, name, canonical = self._tree.parent(path)
        self._faults.check("open", canonical)
        node = parent.entries.get(name)
        if node is None:
            raise fs_error(errno.ENOENT, path)
        if isinstance(node, Dir):
            raise fs_error(errno.EISDIR, path)
        return SimReadHandle(self, node, canonical, owner)

    def rename(self, src: str, dst: str) -> None:
        if self._faults.armed:
            self._faults.check("rename", self._canonical(src), self._canonical(dst))
        displaced = self._tree.rename(src, dst)
        self._c.renames += 1
        if displaced is not None:
            self._c.files_deleted += 1
            self._maybe_free(displaced)

    def unlink(self, path: str) -> None:
        if self._faults.armed:
            self._faults.check("unlink", self._canonical(path))
        self._maybe_free(self._tree.unlink(path))
        self._c.files_deleted += 1

    def fsync_dir(self, path: str) -> None:
        if self._faults.armed:
            self._faults.check("fsync_dir", self._canonical(path))
        self._tree.sync(self._tree.directory(path))
        self._c.dir_fsyncs += 1

    def makedirs(self, path: str) -> None:
        self._tree.makedirs(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(self._tree.directory(path).entries)

    def walk(
        self,
        root: str,
        on_error: Callable[[OSError], None] | None = None,  # noqa: ARG002 - never needed here
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        """Like ``os.walk``: a missing root, or a file, yields nothing. SimFS has no permissions
        and no listing faults, so every directory lists and ``on_error`` is never called."""
        parts = self._tree.split(root)
        try:
            node = self._tree.lookup(parts, root)
        except OSError:
            return
        if isinstance(node, Dir):
            yield from self._tree.walk("/" + "/".join(parts), node)

    def stat(self, path: str) -> FileStat:
        node = self._tree.node(path)
        size = len(node.data) if isinstance(node, File) else 0
        return FileStat(size=size, mtime_ns=node.mtime_ns)

    def exists(self, path: str) -> bool:
        try:
            self._tree.node(path)
        except OSError:
            return False
        return True

    def is_dir(self, path: str) -> bool:
        try:
            return isinstance(self._tree.node(path), Dir)
        except OSError:
            return False

    def _canonical(self, path: str) -> str:
        return "/" + "/".join(self._tree.split(path))

    # -- data and space --------------------------------------------------------------------

    def _used(self) -> int:
        return self._used_blocks * self._block + self._ballast

    def disk_usage(self, path: str) -> DiskUsage:
        self._tree.node(path)
        return DiskUsage(
            total_bytes=self._capacity, avail_bytes=max(0, self._capacity - self._used())
        )

    def _append(self, file: File, path: str, data: bytes) -> None:
        if self._faults.armed:
            self._faults.check("write", path)
        self._put(file, path, data)

    def _put(self, file: File, path: str, data: bytes) -> None:
        # The hot path of every simulation: kept flat, O(len(data)), no trace events.
        buf = file.data
        block = self._block
        old = len(buf)
        grow = (old + len(data) + block - 1) // block - (old + block - 1) // block
        if grow:
            used = (self._used_blocks + grow) * block + self._ballast
            if used > self._capacity:
                self._short_write(file, path, data)
            self._used_blocks += grow
            c = self._c
            c.high_water_bytes = max(c.high_water_bytes, used)
        buf += data
        file.mtime_ns = self._clock()
        c = self._c
        c.bytes_written += len(data)
        c.writes += 1

    def _short_write(self, file: File, path: str, data: bytes) -> NoReturn:
        """Append what fits (last block's slack + whole free blocks), then ``ENOSPC``."""
        block = self._block
        old = len(file.data)
        free_blocks = max(0, self._capacity - self._used()) // block
        fits = _blocks(old, block) * block - old + free_blocks * block
        if fits:
            self._put(file, path, data[:fits])
        self._c.enospc_errors += 1
        if not self._full_traced:
            self._full_traced = True
            self._record("fs.enospc", path=path, appended=fits, used=self._used())
        raise fs_error(errno.ENOSPC, path)

    def _fsync(self, file: File, path: str) -> None:
        self._faults.check("fsync", path)
        file.durable_len = len(file.data)
        self._c.fsyncs += 1

    def _check_fault(self, op: str, path: str) -> None:
        self._faults.check(op, path)

    def _maybe_free(self, file: File) -> None:
        if file.nlink == 0 and file.opens == 0:
            freed = _blocks(len(file.data), self._block)
            if freed:
                self._used_blocks -= freed
                self._full_traced = False

    def _release(self, file: File) -> None:
        file.opens -= 1
        self._maybe_free(file)

    # -- faults ----------------------------------------------------------------------------

    def inject_eio(
        self,
        *,
        prefix: str,
        ops: Iterable[str],
        fault_id: str,
        count: int | None = None,
        probability: float | None = None,
    ) -> None:
        """Fail ``ops`` (a subset of ``OPS``) on paths under ``prefix`` with ``EIO``.

        Every matching op fails until :meth:`clear_faults`, or each one with ``probability``
        (seeded per fault), at most ``count`` times if given. The ``OSError`` names the fault
        in its message and has :class:`~dmsim.errors.InjectedFault` as its ``__cause__``.
        """
        clean = posixpath.normpath(prefix) if prefix.startswith("/") else prefix
        fault = EioFault(fault_id, clean, frozenset(ops), count, probability)
        self._faults.arm(fault)
        self._record(
            "fs.inject",
            fault_id=fault_id,
            errno="EIO",
            prefix=fault.prefix,
            ops=sorted(fault.ops),
            count=count,
            probability=probability,
        )

    def clear_faults(self, fault_id: str | None = None) -> None:
        """Disarm one injected fault, or every fault."""
        cleared = self._faults.disarm(fault_id)
        self._record("fs.clear_faults", fault_id=fault_id, cleared=cleared)

    def active_faults(self) -> tuple[EioFault, ...]:
        return self._faults.active()

    def fill(self, ballast_bytes: int) -> None:
        """Set the ballast (other data on the disk) to ``ballast_bytes``, or as much of it as
        the disk holds (a real ballast file stops at ENOSPC); 0 clears it."""
        _positive("ballast_bytes", ballast_bytes, source="SimFS.fill", allow_zero=True)
        held = min(ballast_bytes, max(0, self._capacity - self._used_blocks * self._block))
        if held < self._ballast:
            self._full_traced = False
        self._ballast = held
        self._c.high_water_bytes = max(self._c.high_water_bytes, self._used())
        self._record("fs.fill", ballast_bytes=held, requested=ballast_bytes, used=self._used())

    def set_capacity(self, capacity_bytes: int) -> None:
        """Resize the disk; shrinking it below usage leaves no space but deletes nothing."""
        _positive("capacity_bytes", capacity_bytes, source="SimFS.set_capacity")
        if capacity_bytes > self._capacity:
            self._full_traced = False
        self._capacity = capacity_bytes
        self._record("fs.capacity", capacity_bytes=capacity_bytes, used=self._used())

    def _record(self, kind: str, **fields: Any) -> None:
        if self._trace is not None:
            self._trace.record(kind, **fields)

    # -- power cut -------------------------------------------------------------------------

    def crash(self, *, tear: bool = True) -> CrashReport:
        """Power cut: revert unsynced names; drop unsynced data, or tear it (seeded)."""
        before = self._tree.files()
        self._tree.revert()
        after = self._tree.files()
        inodes: dict[int, tuple[str, File]] = {}
        for path, file in after.items():
            inodes.setdefault(file.ino, (path, file))
            file.nlink, file.opens = 0, 0
        for file in after.values():
            file.nlink += 1
        torn = [self._cut(path, file, tear) for path, file in inodes.values()]
        self._used_blocks = sum(_blocks(len(f.data), self._block) for _, f in inodes.values())
        self._generation += 1
        self._full_traced = False
        report = CrashReport(
            files=tuple(t for t in torn if t is not None),
            vanished=tuple(sorted(before.keys() - after.keys())),
            resurrected=tuple(sorted(after.keys() - before.keys())),
        )
        self._c.crashes += 1
        self._c.bytes_dropped_by_crashes += report.dropped_bytes
        self._record(
            "fs.crash",
            tear=tear,
            dropped_bytes=report.dropped_bytes,
            files=[[f.path, f.kept_bytes, f.dropped_bytes] for f in report.files],
            vanished=list(report.vanished),
            resurrected=list(report.resurrected),
        )
        return report

    def _cut(self, path: str, file: File, tear: bool) -> CrashedFile | None:
        live, durable = len(file.data), file.durable_len
        if live == durable:
            return None
        kept = torn_length(durable, live, self._block, self._crash_rng) if tear else durable
        del file.data[kept:]
        file.durable_len = kept
        return CrashedFile(path, durable, kept, live - kept)

    # -- views and counters ----------------------------------------------------------------

    def for_process(self, rt: SimRuntime) -> FileSystem:
        """This disk as process ``rt`` sees it: every call, and every call on a handle opened
        through it, raises :class:`~dmsim.runtime.ProcessKilled` once ``rt`` has crashed."""
        return ProcessView(self, rt)

    def statistics(self) -> SimFSStatistics:
        c = self._c
        return SimFSStatistics(
            bytes_written=c.bytes_written,
            writes=c.writes,
            fsyncs=c.fsyncs,
            dir_fsyncs=c.dir_fsyncs,
            files_created=c.files_created,
            files_deleted=c.files_deleted,
            renames=c.renames,
            faults_fired=self._faults.fired,
            enospc_errors=c.enospc_errors,
            crashes=c.crashes,
            bytes_dropped_by_crashes=c.bytes_dropped_by_crashes,
            used_bytes=self._used(),
            high_water_bytes=c.high_water_bytes,
        )
