"""Other programs on the machine writing files into its ``additional_sync_paths`` (the
scenario's ``file_writers``: a report generator, a bag recorder), on the simulated disk, or on
the real one in a wall-clock run.

Each writer starts a new file every ``every``, appends equal parts of it once a second for
``write_for`` (all at once when 0), then fsyncs the file and its directory. Each append opens,
writes and closes, so a power cut (which kills every open handle) does not stop the writer:
what the cut drops is simply missing from the file it completes. A refused append (a full
disk) loses that part, as it would for any program. When the file is complete the writer
records ``file.written`` {path, size, digest, writing_s} for the bytes the disk then holds
(``writing_s``: since it created the file): what sync must deliver, once, whole and only
whole. A file the disk took nothing of is removed (sync never uploads an empty file) and not
recorded.

The writers run beside the machine, not in its process: a crash of ``dmsim`` does not stop
them, and they stop when the run's duration ends (a file then half written is completed as it
stands).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from dmsim.runtime import RngTree, Runtime, Task, Trace
from dmsim.storage import FileSystem

from ._model import APPEND_EVERY_S, FileWriterSpec

__all__ = ["FileWriters"]


class FileWriters:
    def __init__(
        self,
        specs: Sequence[FileWriterSpec],
        *,
        rt: Runtime,
        fs: FileSystem,
        rng: RngTree,
        trace: Trace,
    ) -> None:
        self._specs = tuple(specs)
        self._rt = rt
        self._fs = fs
        self._rng = rng
        self._trace = trace
        self._tasks: list[Task[None]] = []
        self._written: list[str] = []  # completed files, oldest first

    def start(self) -> None:
        for index, spec in enumerate(self._specs):
            self._tasks.append(self._rt.spawn(self._run(index, spec), name=f"file-writer-{index}"))

    async def stop(self) -> None:
        """Stop every writer; a file it is writing is completed as it stands."""
        for task in self._tasks:
            await task.stop()
        self._tasks = []

    def backlog(self) -> tuple[int, int]:
        """Files completed and still on the disk (not yet synced), and their bytes."""
        on_disk = [path for path in self._written if self._fs.exists(path)]
        self._written = on_disk  # synced ones never come back
        return len(on_disk), sum(self._fs.stat(path).size for path in on_disk)

    async def _run(self, index: int, spec: FileWriterSpec) -> None:
        rng = self._rng.child(str(index)).random()
        self._fs.makedirs(spec.directory)
        await self._rt.sleep(rng.uniform(0.0, APPEND_EVERY_S))  # out of step with sync's ticks
        number = 0
        while True:
            path = f"{spec.directory}/writer-{index}-{number:06d}{spec.extension}"
            started = self._rt.monotonic()
            try:
                await self._write(path, rng.randbytes(spec.size_bytes), spec.write_for_s)
            finally:  # also when the run ends mid-file
                self._complete(path, spec.directory, started)
            number += 1
            await self._rt.sleep(max(0.0, started + spec.every_s - self._rt.monotonic()))

    async def _write(self, path: str, data: bytes, write_for_s: float) -> None:
        parts = max(1, int(write_for_s / APPEND_EVERY_S))
        step = -(-len(data) // parts)
        for part in range(parts):
            if part:
                await self._rt.sleep(APPEND_EVERY_S)
            self._append(path, data[part * step : (part + 1) * step])
        if (rest := write_for_s - (parts - 1) * APPEND_EVERY_S) > 0:
            await self._rt.sleep(rest)

    def _append(self, path: str, chunk: bytes) -> None:
        try:
            handle = self._fs.open_append(path)
        except OSError:
            return
        try:
            handle.write(chunk)
        except OSError:  # a full disk: this part is lost, the program goes on
            pass
        finally:
            handle.close()

    def _complete(self, path: str, directory: str, started: float) -> None:
        if not self._fs.exists(path):  # the disk took nothing, or a cut undid the create
            return
        try:
            handle = self._fs.open_append(path)
            try:
                handle.fsync()
            finally:
                handle.close()
            self._fs.fsync_dir(directory)
        except OSError:
            pass  # judged as it stands (fsync is not refused on the simulated disk's paths)
        reader = self._fs.open_read(path)
        try:
            data = reader.read()
        finally:
            reader.close()
        if not data:
            self._fs.unlink(path)
            return
        self._written.append(path)
        digest = hashlib.sha256(data).hexdigest()
        writing_s = round(self._rt.monotonic() - started, 6)  # since the file was created
        self._trace.record(
            "file.written", path=path, size=len(data), digest=digest, writing_s=writing_s
        )
