"""The strength order: every weakening keeps time and id, and every chain ends."""

from __future__ import annotations

from hypothesis import given

from dmsim.faults import RPC_NAMES, FaultSchedule, FaultStep, fault_schedules, weaker_variants


def test_crash_becomes_a_clean_restart_then_sooner() -> None:
    crash = FaultStep(at=100, kind="crash", params={"restart_after": 30})
    variants = weaker_variants(crash)
    assert variants[0].kind == "clean_restart"
    assert variants[0].params["restart_after"] == 30
    assert any(v.kind == "crash" and v.params["restart_after"] == 15 for v in variants)


def test_loss_steps_down_the_ladder_and_windows_shorten() -> None:
    loss = FaultStep(at=5, kind="loss", params={"probability": 0.5}, duration=600)
    variants = weaker_variants(loss)
    both_ways = [v for v in variants if "direction" not in v.params]
    assert [v.params["probability"] for v in both_ways if v.duration == 600] == [0.2]
    assert [v.duration for v in both_ways if v.params["probability"] == 0.5] == [300]


def test_link_down_long_to_short_stops_at_one_second() -> None:
    step = FaultStep(at=5, kind="link_down", duration=10)
    seen = []
    while variants := weaker_variants(step):
        step = variants[0]
        seen.append(step.duration)
    assert seen == [5.0, 2.5, 1.2, 1.0]


def test_rpc_faults_narrow_to_one_call() -> None:
    drop = FaultStep(at=5, kind="drop_ack_after_commit", duration=60)
    assert any(v.params.get("count") == 1 and v.duration == 60 for v in weaker_variants(drop))
    restart = FaultStep(at=5, kind="restart_mid_stream", params={"commit": True, "count": 4})
    kinds = [(v.kind, dict(v.params)) for v in weaker_variants(restart)]
    assert ("restart_mid_stream", {"count": 4}) in kinds
    assert ("restart_mid_stream", {"commit": True, "count": 2}) in kinds
    stall = weaker_variants(FaultStep(at=5, kind="restart_mid_stream", params={"count": 1}))
    assert [v.kind for v in stall if "rpcs" not in v.params] == ["stall_mid_stream"]


def test_rpc_faults_keep_to_one_rpc_then_lose_one() -> None:
    everywhere = FaultStep(at=5, kind="rpc_reject", params={"code": "INTERNAL"}, duration=60)
    narrowed = [v for v in weaker_variants(everywhere) if "rpcs" in v.params]
    assert [tuple(v.params["rpcs"]) for v in narrowed] == [(rpc,) for rpc in RPC_NAMES]
    assert all(v.duration == 60 and v.params["code"] == "INTERNAL" for v in narrowed)
    two = FaultStep(
        at=5, kind="slow_ack", params={"seconds": 2.0, "rpcs": ["FileUpload", "CreateSequence"]}
    )
    fewer = sorted(
        tuple(v.params["rpcs"])
        for v in weaker_variants(two)
        if v.params["seconds"] == 2.0 and "count" not in v.params
    )
    assert fewer == [("CreateSequence",), ("FileUpload",)]
    one = FaultStep(at=5, kind="drop_ack_after_commit", params={"rpcs": ["CreateSequence"]})
    assert all(tuple(v.params["rpcs"]) == ("CreateSequence",) for v in weaker_variants(one))


def test_network_faults_lose_their_jitter_and_narrow_to_one_direction() -> None:
    latency = FaultStep(at=5, kind="latency", params={"seconds": 1.0, "jitter": 0.5}, duration=9)
    changed = [dict(v.params) for v in weaker_variants(latency) if v.duration == 9]
    assert changed == [
        {"seconds": 1.0},
        {"seconds": 0.5, "jitter": 0.5},
        {"seconds": 1.0, "jitter": 0.5, "direction": "upstream"},
        {"seconds": 1.0, "jitter": 0.5, "direction": "downstream"},
    ]
    one_way = FaultStep(
        at=5, kind="loss", params={"probability": 1.0, "direction": "upstream"}, duration=9
    )
    assert all(v.params["direction"] == "upstream" for v in weaker_variants(one_way))


def test_lists_lose_one_entry_at_a_time() -> None:
    eio = FaultStep(at=1, kind="disk_eio", params={"ops": ["write", "fsync"]}, duration=2)
    ops = sorted(tuple(v.params["ops"]) for v in weaker_variants(eio) if "ops" in v.params)
    assert ("fsync",) in ops
    assert ("write",) in ops


def test_a_reconfigure_keeps_to_capture_or_to_the_data_manager_then_loses_attributes() -> None:
    both = FaultStep(at=1, kind="reconfigure", params={
        "changes": [{"resource": "cam", "method": "ReadImage", "capture_frequency_hz": 2}],
        "data_manager": {"durability_window_ms": 0, "maximum_num_sync_threads": 4},
    })  # fmt: skip
    variants = [dict(v.params) for v in weaker_variants(both)]
    assert {"changes": both.params["changes"]} in variants
    assert {"data_manager": both.params["data_manager"]} in variants
    attributes = FaultStep(at=1, kind="reconfigure", params={"data_manager": {
        "durability_window_ms": 0, "maximum_num_sync_threads": 4}})  # fmt: skip
    kept = [dict(v.params["data_manager"]) for v in weaker_variants(attributes)]
    assert kept == [{"maximum_num_sync_threads": 4}, {"durability_window_ms": 0}]
    assert weaker_variants(FaultStep(at=1, kind="reconfigure", params={"data_manager": {
        "durability_window_ms": 0}})) == ()  # fmt: skip


@given(fault_schedules(duration=7200.0))
def test_every_chain_of_weakenings_ends_and_keeps_time_and_id(schedule: FaultSchedule) -> None:
    for step in schedule:
        current = step
        for _ in range(200):
            variants = weaker_variants(current)
            if not variants:
                break
            for variant in variants:
                assert variant.at == step.at
                assert variant.fault_id == step.fault_id
                assert variant != current
            current = variants[-1]
        else:
            raise AssertionError(f"no end to weakening {step}")
