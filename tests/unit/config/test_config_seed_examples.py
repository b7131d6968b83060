"""Every JSON example of the source documents: valid ones parse, broken ones fail precisely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.unit.config.config_kit import CPUS, DATA, ENV, problems

from dmsim.config import (
    CollectorSpec,
    MachineConfig,
    ResourceRef,
    RetentionPolicy,
    collector_specs,
    load_machine_config,
)
from dmsim.errors import ConfigError

SEEDS = DATA / "seeds"
EXAMPLES = DATA / "examples"
BROKEN = {
    "camera_readimage.json",
    "camera_readimage_retention.json",
    "remote_esp32_analogs_gpios.json",
}


def load(path: Path) -> MachineConfig:
    return load_machine_config(path, env=ENV, cpu_count=CPUS)


def summary(spec: CollectorSpec) -> tuple[str, str, dict[str, str], float, str]:
    return (
        str(spec.resource),
        spec.method,
        dict(spec.additional_params),
        spec.capture_frequency_hz,
        spec.file_extension,
    )


def test_every_seed_example_is_here() -> None:
    assert len(list(SEEDS.glob("*.json"))) == 12


@pytest.mark.parametrize(
    "name", sorted(p.name for p in SEEDS.glob("*.json") if p.name not in BROKEN)
)
def test_valid_seed_examples_parse(name: str) -> None:
    config = load(SEEDS / name)
    assert config.source == str(SEEDS / name)
    expected_warnings = 1 if name == "esp32_board.json" else 0
    assert len(config.warnings) == expected_warnings


def test_data_manager_examples() -> None:
    server = load(SEEDS / "dm_viam_server.json").data_manager
    assert server is not None
    assert (server.name, server.sync_interval_mins, server.sync_disabled) == (
        "my-data-manager",
        1.0,
        True,
    )
    assert (server.maximum_num_sync_threads, server.delete_every_nth_when_disk_full) == (250, 5)
    assert server.capture_dir == "/home/robot/.viam/capture"
    micro = load(SEEDS / "dm_micro_server.json").data_manager
    assert micro is not None
    assert (micro.sync_interval_mins, micro.additional_sync_paths, micro.cache_size_kb) == (
        3.0,
        (),
        1.0,
    )
    deletion = load(SEEDS / "dm_viam_server_part_deletion.json").data_manager
    assert deletion is not None
    assert deletion.delete_data_on_part_deletion
    mongo = load(SEEDS / "mongo_capture.json").data_manager
    assert mongo is not None
    assert mongo.mongo_capture_config.uri == (
        "mongodb://127.0.0.1:27017/?directConnection=true&serverSelectionTimeoutMS=2000"
    )
    assert (mongo.mongo_capture_config.database, mongo.mongo_capture_config.collection) == (
        "sensorData",
        "readings",
    )


@pytest.mark.parametrize(
    ("name", "collectors"),
    [
        (
            "sensors_tmp36_wifi.json",
            [
                ("rdk:component:sensor/tmp36", "Readings", {}, 0.2, ".dat"),
                ("rdk:component:sensor/my-wifi-sensor", "Readings", {}, 0.1, ".dat"),
            ],
        ),
        (
            "vision_capture_all.json",
            [
                (
                    "rdk:service:vision/vision-1",
                    "CaptureAllFromCamera",
                    {
                        "camera_name": "camera-1",
                        "mime_type": "image/jpeg",
                        "min_confidence_score": "0.7",
                    },
                    1.0,
                    ".jpeg",
                )
            ],
        ),
        (
            "remote_camera.json",
            [
                (
                    "rdk:component:camera/pi-test-main:cam",
                    "ReadImage",
                    {"mime_type": "image/jpeg", "reader_name": "cam1"},
                    1.0,
                    ".jpeg",
                )
            ],
        ),
        ("mongo_capture.json", [("rdk:component:sensor/sensor-1", "Readings", {}, 0.5, ".dat")]),
    ],
)
def test_collectors_of_the_examples(name: str, collectors: list[tuple[object, ...]]) -> None:
    assert [summary(s) for s in collector_specs(load(SEEDS / name))] == collectors


def test_sensor_example_cache_size_and_modules() -> None:
    tmp36 = load(SEEDS / "sensors_tmp36_wifi.json").components[0]
    assert tmp36.attributes == {"analog_reader": "temp", "num_readings": 15}
    assert tmp36.capture_methods[0].cache_size_kb == 10.0
    module = load(SEEDS / "vision_capture_all_module.json").modules[0]
    assert (module.name, module.module_id, module.version) == (
        "viam_tflite_cpu",
        "viam:tflite_cpu",
        "0.0.3",
    )


def test_esp32_board_example_has_no_data_manager() -> None:
    config = load(SEEDS / "esp32_board.json")
    methods = config.capture_methods()
    assert [dict(m.additional_params) for m in methods] == [
        {"reader_name": "A1"},
        {"reader_name": "A2"},
    ]
    assert collector_specs(config) == ()


PLACEHOLDER = [("error", "services[0]", 3, 5, "invalid JSON: expected a value, found '...'")]
DUPLICATES = [
    (
        "error",
        "services[0].name",
        12,
        7,
        "duplicate key 'name' (first at line 4, column 7); JSON readers disagree on which one wins",
    ),
    (
        "error",
        "services[0].type",
        13,
        7,
        "duplicate key 'type' (first at line 5, column 7); JSON readers disagree on which one wins",
    ),
]
COMMENT = (
    "error",
    "remotes[0].service_configs[0].attributes.capture_methods[0]",
    26,
    14,
    "invalid JSON: expected a value, found a comment '//' (JSON has no comments)",
)
CURLY = (
    "error",
    "remotes[0].service_configs[0].attributes.capture_methods[2].additional_params.pin_name",
    50,
    31,
    "invalid JSON: expected a value, found '“' (LEFT DOUBLE QUOTATION MARK); JSON needs a "
    "straight double quote '\"'",
)


def found(text: str) -> list[tuple[object, ...]]:
    return [(p.severity, p.path, p.line, p.column, p.message) for p in problems(text)]


@pytest.mark.parametrize("name", ["camera_readimage.json", "camera_readimage_retention.json"])
def test_placeholder_examples_point_at_the_first_placeholder(name: str) -> None:
    assert found((SEEDS / name).read_text()) == PLACEHOLDER


def test_the_remote_board_example_reports_each_mistake_where_it_is() -> None:
    text = (SEEDS / "remote_esp32_analogs_gpios.json").read_text()
    assert found(text) == [*DUPLICATES, COMMENT]
    # blank the comments out (line numbers unchanged): the curly quotes are next
    uncommented = re.sub(r"//[^\n]*", "", text)
    assert found(uncommented) == [*DUPLICATES, CURLY]
    straight = uncommented.replace("“27”", '"27"')
    assert found(straight) == DUPLICATES


def test_a_broken_example_raises_config_error_naming_the_file() -> None:
    path = SEEDS / "camera_readimage.json"
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.source == str(path)
    assert str(caught.value) == (
        f"{path}: 1 problem(s)\n"
        "  services[0] (line 3, column 5): invalid JSON: expected a value, found '...'"
    )


def test_repaired_examples() -> None:
    camera = load(EXAMPLES / "camera_readimage_fixed.json")
    (spec,) = collector_specs(camera)
    assert summary(spec) == (
        "rdk:component:camera/cam",
        "ReadImage",
        {"mime_type": "image/jpeg", "reader_name": "cam1"},
        0.333,
        ".jpeg",
    )
    assert spec.retention_policy == RetentionPolicy(days=5)
    assert camera.warnings == ()
    board = load(EXAMPLES / "remote_esp32_analogs_gpios_fixed.json")
    assert board.data_manager is not None
    assert board.data_manager.tags == ("tag1", "tag2")
    specs = collector_specs(board)
    assert [(s.method, dict(s.additional_params)) for s in specs] == [
        ("Analogs", {"reader_name": "A1"}),
        ("Analogs", {"reader_name": "A2"}),
        ("Gpios", {"pin_name": "27"}),
    ]
    assert {s.resource for s in specs} == {
        ResourceRef("rdk:component:board", "my-esp32", "esp-home")
    }
    assert all(s.tags == ("tag1", "tag2") for s in specs)


def test_documented_scenarios() -> None:
    tomato = collector_specs(load(EXAMPLES / "tomato_robot.json"))
    assert [summary(s) for s in tomato] == [
        (
            "rdk:component:camera/depth-cam",
            "NextPointCloud",
            {"mime_type": "pointcloud/pcd"},
            30.0,
            ".pcd",
        ),
        ("rdk:component:arm/picker-arm", "JointPositions", {}, 1.0, ".dat"),
    ]
    (inspection,) = collector_specs(load(EXAMPLES / "inspection_station.json"))
    assert summary(inspection) == (
        "rdk:service:vision/vision-service",
        "CaptureAllFromCamera",
        {"camera_name": "inspection-cam"},
        0.5,
        ".jpeg",
    )
    assert inspection.interval_s == 2.0
    every = load(EXAMPLES / "every_method.json")
    assert every.warnings == ()
    assert len(collector_specs(every)) == 21
