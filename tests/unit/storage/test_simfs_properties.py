"""Random operation sequences with random power cuts, checked against a reference model.

After every crash: each file's content is a prefix of what was written to it, at least its
last-fsynced prefix, and cut at a block boundary (or at either end); each directory's names are
exactly its state at its last ``fsync_dir``. The same ops and seed give the same trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from dmsim.runtime import RngTree, Trace
from dmsim.storage._simfs import SimFS
from dmsim.storage._simfs_handles import SimFileHandle

BLOCK = 16
DIRS = ("/d0", "/d1")
NAMES = ("a", "b", "c")

Op = tuple[str, int, int, int, int]

# Weighted so that files often become durable and then get pending bytes before a crash.
KINDS = ["open"] * 2 + ["write"] * 4 + ["fsync"] * 3 + ["sync_dir"] * 3
KINDS += ["close", "rename", "unlink", "crash"]

ops = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 5),
        st.integers(0, 40),
        st.integers(0, 5),
        st.integers(0, 5),
    ),
    min_size=8,
    max_size=40,
)


@dataclass
class Model:
    written: dict[int, bytearray] = field(default_factory=dict)  # inode -> all bytes written
    synced: dict[int, int] = field(default_factory=dict)  # inode -> last fsynced length
    live: dict[str, dict[str, int]] = field(default_factory=lambda: {d: {} for d in DIRS})
    durable: dict[str, dict[str, int]] = field(default_factory=lambda: {d: {} for d in DIRS})
    handles: list[tuple[int, SimFileHandle]] = field(default_factory=list)
    next_inode: int = 0
    next_byte: int = 0


def check_after_crash(fs: SimFS, model: Model) -> None:
    for d in DIRS:
        assert fs.listdir(d) == sorted(model.durable[d]), f"names in {d}"
    for d in DIRS:
        for name, inode in model.durable[d].items():
            reader = fs.open_read(f"{d}/{name}")
            content = reader.read()
            reader.close()
            written = bytes(model.written[inode])
            assert written.startswith(content), f"{d}/{name} is not a prefix of what was written"
            assert len(content) >= model.synced[inode], f"{d}/{name} lost fsynced bytes"
            kept = len(content)
            assert kept in (model.synced[inode], len(written)) or kept % BLOCK == 0, (
                f"{d}/{name} torn at {kept}, not at a block boundary"
            )
    # Reset the model to what survived: surviving bytes are now durable; handles are dead.
    for d in DIRS:
        model.live[d] = dict(model.durable[d])
        for name, inode in model.durable[d].items():
            size = fs.stat(f"{d}/{name}").size
            del model.written[inode][size:]
            model.synced[inode] = size
    model.handles.clear()


def run(seed: int, sequence: list[Op]) -> Trace:
    trace = Trace(lambda: 0.0)
    fs = SimFS(
        capacity_bytes=1 << 30,
        rng=RngTree(seed),
        wall_clock=lambda: 0,
        block_size=BLOCK,
        trace=trace,
    )
    for d in DIRS:
        fs.makedirs(d)
    model = Model()
    for kind, i, n, j, k in [*sequence, ("crash", 0, 0, 0, 0)]:
        d, name = DIRS[i % 2], NAMES[i % 3]
        if kind == "open":
            if name not in model.live[d]:
                model.live[d][name] = model.next_inode
                model.written[model.next_inode] = bytearray()
                model.synced[model.next_inode] = 0
                model.next_inode += 1
            model.handles.append((model.live[d][name], fs.open_append(f"{d}/{name}")))
        elif kind in ("write", "fsync", "close") and model.handles:
            inode, handle = model.handles[i % len(model.handles)]
            if kind == "write":
                data = bytes((model.next_byte + x) % 251 for x in range(n))
                model.next_byte += n
                handle.write(data)
                model.written[inode] += data
            elif kind == "fsync":
                handle.fsync()
                model.synced[inode] = len(model.written[inode])
            else:
                handle.close()
                model.handles.remove((inode, handle))
        elif kind == "rename" and name in model.live[d]:
            dst_dir, dst_name = DIRS[j % 2], NAMES[k % 3]
            fs.rename(f"{d}/{name}", f"{dst_dir}/{dst_name}")
            inode = model.live[d].pop(name)
            model.live[dst_dir][dst_name] = inode
        elif kind == "unlink" and name in model.live[d]:
            fs.unlink(f"{d}/{name}")
            del model.live[d][name]
        elif kind == "sync_dir":
            fs.fsync_dir(d)
            model.durable[d] = dict(model.live[d])
        elif kind == "crash":
            fs.crash()
            check_after_crash(fs, model)
    return trace


@settings(max_examples=100)
@given(seed=st.integers(0, 2**32), sequence=ops)
def test_a_crash_keeps_exactly_what_the_durability_contract_promises(
    seed: int, sequence: list[Op]
) -> None:
    first = run(seed, sequence)
    assert first.digest() == run(seed, sequence).digest(), "same seed, same trace"
