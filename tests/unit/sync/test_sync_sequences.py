"""Sync of the sequences a capture control sensor records: each closed ``sequences/*.seq``
becomes one ``CreateSequence`` with a content key, is deleted once acknowledged, stored once
even when the acknowledgement is lost, and quarantined when it does not parse; an open
``.progseq`` is never sent."""

from __future__ import annotations

from tests.unit.sync.sync_fakes import CAPTURE_DIR, DROP_ACK, OK, World, write_file

from dmsim.storage._sequences import SequenceFile, write_sequence_file
from dmsim.sync import REASON_SUFFIX

NS = 1_000_000_000
SEQUENCES = f"{CAPTURE_DIR}/sequences"
CLOSED = SequenceFile(
    1_767_225_600 * NS, 1_767_225_660 * NS, (("cam", "GetImages"), ("arm", "JointPositions")),
    ("run-1",),
)  # fmt: skip


def sync_once(world: World) -> None:
    async def main() -> None:
        engine = world.engine(world.settings(sync_disabled=True))
        engine.start()
        await engine.sync_now()
        await engine.close()

    world.run(main())


def test_a_closed_sequence_is_created_in_the_cloud_and_deleted() -> None:
    world = World()
    write_sequence_file(world.fs, f"{SEQUENCES}/a.seq", CLOSED)
    write_sequence_file(
        world.fs, f"{SEQUENCES}/b.progseq", CLOSED.__class__(5, None, (("c", "m"),), ())
    )
    sync_once(world)
    (stored,) = world.core.sequences()
    assert (stored.part_id, stored.start_ns, stored.end_ns) == (
        "part-1",
        CLOSED.start_ns,
        CLOSED.end_ns,
    )
    assert (stored.resources, stored.tags) == (CLOSED.resources, CLOSED.tags)
    assert [c.rpc for c in world.transport.calls] == ["CreateSequence"]
    assert world.files(SEQUENCES) == [f"{SEQUENCES}/b.progseq"]  # still open: never sent


def test_a_lost_acknowledgement_resends_the_same_key_and_the_cloud_stores_it_once() -> None:
    world = World()
    write_sequence_file(world.fs, f"{SEQUENCES}/a.seq", CLOSED)
    world.transport.script = lambda rpc, key: DROP_ACK if len(world.transport.calls) == 0 else OK

    async def main() -> int:
        engine = world.engine(world.settings(sync_disabled=True))
        engine.start()
        await engine.sync_now()
        await world.rt.sleep(5)  # past the backoff
        await engine.sync_now()
        stats = engine.statistics()
        await engine.close()
        return stats.sequences_uploaded

    assert world.run(main()) == 1
    keys = [c.key for c in world.transport.calls]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert keys[0].endswith("/sequence")
    assert len(world.core.sequences()) == 1
    assert world.files(SEQUENCES) == []


def test_a_sequence_file_that_does_not_parse_goes_to_failed_with_its_reason() -> None:
    world = World()
    write_file(world.fs, f"{SEQUENCES}/bad.seq", b'{"start_time": "soon"}')
    sync_once(world)
    assert world.transport.calls == []
    quarantined = f"{CAPTURE_DIR}/failed/sequences/bad.seq"
    assert world.fs.exists(quarantined)
    reason = world.fs.open_read(quarantined + REASON_SUFFIX).read().decode()
    assert "start_time: not an RFC 3339 time" in reason


def test_only_the_capture_directorys_own_sequences_count() -> None:
    world = World()
    write_sequence_file(world.fs, f"{CAPTURE_DIR}/rdk_component_camera/sequences/x.seq", CLOSED)
    sync_once(world)
    assert world.core.sequences() == []
    assert world.transport.calls == []
