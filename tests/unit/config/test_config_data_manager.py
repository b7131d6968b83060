"""Every data_manager attribute: its default, its range, its type, and dmsim's extensions."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from tests.unit.config.config_kit import errors, machine, parse, warnings

from dmsim.config import (
    DATA_MANAGER_ATTRIBUTES,
    DEFAULT_PROMISE,
    DataManagerConfig,
    Promise,
    default_capture_dir,
    default_sync_threads,
)
from dmsim.config._effective import data_manager_dict

P = "services[0].attributes"

EXPECTED_DEFAULTS = {
    "capture_dir": "/home/robot/.viam/capture",
    "tags": [],
    "capture_disabled": False,
    "sync_disabled": False,
    "additional_sync_paths": [],
    "sync_interval_mins": 0.1,
    "file_last_modified_millis": 10000,
    "maximum_num_sync_threads": 4,  # 8 CPUs in the tests
    "maximum_capture_file_size_bytes": 262144,
    "delete_every_nth_when_disk_full": 5,
    "disk_usage_deletion_threshold": 0.9,
    "capture_dir_deletion_threshold": 0.5,
    "selective_syncer_name": "",
    "mongo_capture_config": {"uri": "", "database": "sensorData", "collection": "readings"},
    "capture_control_sensor": {"name": "", "key": ""},
    "delete_data_on_part_deletion": False,
    "cache_size_kb": 1.0,
    # dmsim extensions
    "durability_window_ms": 1000,
    "disk_check_interval_secs": 30.0,
    "capture_dir_max_bytes": 0,
    "sync_backoff_initial_ms": 200,
    "sync_backoff_max_ms": 3_600_000,
    "sync_offline_wait_secs": 60.0,
    "sync_backoff_jitter": 0.1,
    "stale_data_warning_secs": None,  # rdk's rule
    "max_upload_message_bytes": 1024 * 1024,
}


def manager(attrs: dict[str, Any], **kwargs: Any) -> DataManagerConfig:
    config = parse(machine(dm=attrs), **kwargs)
    assert config.data_manager is not None
    return config.data_manager


def test_every_default() -> None:
    dm = manager({})
    assert data_manager_dict(dm) == EXPECTED_DEFAULTS
    assert dm.name == "dm"
    assert dm.explicit == frozenset()
    assert dm.sync_interval_s == 6.0
    assert dm.durability_window_s == 1.0
    assert not dm.mongo_capture_config.enabled
    assert not dm.capture_control_sensor.enabled


def test_the_table_documents_every_field() -> None:
    fields = [f.name for f in dataclasses.fields(DataManagerConfig)]
    documented = [spec.name for spec in DATA_MANAGER_ATTRIBUTES]
    assert [f for f in fields if f not in ("name", "explicit", "json_path")] == documented
    assert all(spec.doc for spec in DATA_MANAGER_ATTRIBUTES)
    extensions = {s.name for s in DATA_MANAGER_ATTRIBUTES if s.extension}
    assert extensions == set(list(EXPECTED_DEFAULTS)[17:])
    for spec in DATA_MANAGER_ATTRIBUTES:
        if spec.default is not None and spec.name != "capture_dir":
            assert EXPECTED_DEFAULTS[spec.name] == spec.default, spec.name


NON_DEFAULT = {
    "capture_dir": "/data/capture",
    "tags": ["a", "B-2", "c_3"],
    "capture_disabled": True,
    "sync_disabled": True,
    "additional_sync_paths": ["/var/log/robot", "/srv/x"],
    "sync_interval_mins": 2.5,
    "file_last_modified_millis": 500,
    "maximum_num_sync_threads": 250,
    "maximum_capture_file_size_bytes": 1024,
    "delete_every_nth_when_disk_full": 2,
    "disk_usage_deletion_threshold": 1.0,
    "capture_dir_deletion_threshold": 0.25,
    "mongo_capture_config": {
        "uri": "mongodb://127.0.0.1:27017",
        "database": "d",
        "collection": "c",
    },
    "capture_control_sensor": {"name": "ctl", "key": "overrides"},
    "selective_syncer_name": "ctl",
    "delete_data_on_part_deletion": True,
    "cache_size_kb": 10.5,
    "durability_window_ms": 0,
    "disk_check_interval_secs": 5.0,
    "capture_dir_max_bytes": 10_000_000,
    "sync_backoff_initial_ms": 1000,
    "sync_backoff_max_ms": 1000,
    "sync_offline_wait_secs": 1.5,
    "sync_backoff_jitter": 0.0,
    "stale_data_warning_secs": 0.0,
    "max_upload_message_bytes": 65536,
}


def test_every_attribute_can_be_set() -> None:
    config = parse(machine({"name": "ctl", "type": "sensor", "model": "fake"}, dm=NON_DEFAULT))
    assert config.data_manager is not None
    assert data_manager_dict(config.data_manager) == NON_DEFAULT
    assert config.data_manager.explicit == frozenset(NON_DEFAULT)
    assert config.warnings == ()


def test_capture_dir_follows_viam_home_and_home() -> None:
    assert manager({}, env={"HOME": "/h"}).capture_dir == "/h/.viam/capture"
    assert manager({"capture_dir": ""}, env={"HOME": "/h"}).capture_dir == "/h/.viam/capture"
    viam_home = {"HOME": "/h", "VIAM_HOME": "/opt/viam"}
    assert manager({}, env=viam_home).capture_dir == "/opt/viam/capture"
    assert manager({}, env={"HOME": "/h", "VIAM_HOME": "~/v"}).capture_dir == "/h/v/capture"
    assert manager({"capture_dir": "~/data"}, env=viam_home).capture_dir == "/h/data"
    assert manager({"capture_dir": "~"}, env={"HOME": "/h"}).capture_dir == "/h"
    assert manager({"capture_dir": "/mnt/ssd/c"}, env=viam_home).capture_dir == "/mnt/ssd/c"
    paths = manager({"additional_sync_paths": ["~/x", "/y"]}, env={"HOME": "/h"})
    assert paths.additional_sync_paths == ("/h/x", "/y")
    assert default_capture_dir({"HOME": "/r"}) == "/r/.viam/capture"


def test_relative_paths_are_errors() -> None:
    """Regression: they were only warned, then the sync engine refused them at start-up."""
    paths = ["/a", "b/c", "~no-such-user-here/d"]
    found = errors(machine(dm={"capture_dir": "data", "additional_sync_paths": paths}))
    assert found == {
        f"{P}.capture_dir": "must be an absolute path, got 'data'",
        f"{P}.additional_sync_paths[1]": "must be an absolute path, got 'b/c'",
        f"{P}.additional_sync_paths[2]": "must be an absolute path, got '~no-such-user-here/d'",
    }


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (2, 1), (3, 1), (4, 2), (16, 8)])
def test_sync_threads_default_to_half_the_cpus_at_least_one(cpus: int, threads: int) -> None:
    assert manager({}, cpu_count=cpus).maximum_num_sync_threads == threads
    assert default_sync_threads(cpus) == threads


@pytest.mark.parametrize(
    ("attr", "value", "message"),
    [
        ("sync_interval_mins", -1, "must be in (0, 525600], got -1"),
        ("sync_interval_mins", 525601, "must be in (0, 525600], got 525601"),
        ("sync_interval_mins", 1e308, "must be in (0, 525600], got 1e+308"),
        ("file_last_modified_millis", -5, "can't be negative, got -5"),
        ("maximum_num_sync_threads", -2, "must be at least 1, got -2"),
        ("maximum_capture_file_size_bytes", 0, "must be positive, got 0"),
        ("maximum_capture_file_size_bytes", -1, "can't be negative, got -1"),
        ("delete_every_nth_when_disk_full", -3, "must be at least 1, got -3"),
        ("disk_usage_deletion_threshold", 0, "must be in (0, 1], got 0"),
        ("disk_usage_deletion_threshold", 1.5, "must be in (0, 1], got 1.5"),
        ("disk_usage_deletion_threshold", -0.1, "must be in (0, 1], got -0.1"),
        ("capture_dir_deletion_threshold", 0, "must be in (0, 1], got 0"),
        ("capture_dir_deletion_threshold", 90, "must be in (0, 1], got 90"),
        ("cache_size_kb", 0, "must be positive, got 0"),
        ("cache_size_kb", -1, "can't be negative, got -1"),
        ("durability_window_ms", -1, "can't be negative, got -1"),
        ("disk_check_interval_secs", 0, "must be positive, got 0"),
        ("capture_dir_max_bytes", -1, "can't be negative, got -1"),
        ("sync_backoff_initial_ms", 0, "must be positive, got 0"),
        ("sync_offline_wait_secs", -60, "can't be negative, got -60"),
        ("sync_backoff_jitter", 1, "must be in [0, 1), got 1"),
        ("sync_backoff_jitter", -0.5, "must be in [0, 1), got -0.5"),
        ("stale_data_warning_secs", -1, "can't be negative, got -1"),
        ("max_upload_message_bytes", 0, "must be at least 1024, got 0"),
        ("max_upload_message_bytes", 1023, "must be at least 1024, got 1023"),
    ],
)
def test_out_of_range_values_are_errors(attr: str, value: float, message: str) -> None:
    assert errors(machine(dm={attr: value})) == {f"{P}.{attr}": message}


@pytest.mark.parametrize("minutes", [1e-9, 0.00009999])
def test_a_sync_interval_below_the_reference_floor_is_unset(minutes: float) -> None:
    """Regression: 1e-9 was kept, and the sync engine ran a pass every 60 ns forever.
    rdk: sync_interval_mins < 0.0001 → 0.1; dmsim also warns."""
    found = warnings(machine(dm={"sync_interval_mins": minutes}))
    assert found == {
        f"{P}.sync_interval_mins": f"{minutes:g} is below 0.0001, which means unset (as in "
        "rdk): the default (0.1) is used"
    }
    assert manager({"sync_interval_mins": minutes}).sync_interval_s == 6.0
    assert manager({"sync_interval_mins": 0.0001}).sync_interval_s == 0.006
    assert manager({"sync_interval_mins": 525600}).sync_interval_s == 365 * 24 * 3600


@pytest.mark.parametrize(
    ("attr", "default"),
    [
        ("sync_interval_mins", "0.1"),
        ("file_last_modified_millis", "10000"),
        ("maximum_num_sync_threads", "half the CPUs"),
        ("delete_every_nth_when_disk_full", "5"),
    ],
)
def test_zero_means_unset_with_a_warning(attr: str, default: str) -> None:
    found = warnings(machine(dm={attr: 0}))
    assert found == {f"{P}.{attr}": f"0 means unset (as in rdk): the default ({default}) is used"}
    assert data_manager_dict(manager({attr: 0}))[attr] == EXPECTED_DEFAULTS[attr]


@pytest.mark.parametrize(
    ("attr", "value", "message"),
    [
        (
            "sync_interval_mins",
            "5",
            "expected a number, found a string ('5') (a number in quotes is text)",
        ),
        ("maximum_num_sync_threads", 2.5, "expected a whole number, found a number (2.5)"),
        ("maximum_num_sync_threads", True, "expected a whole number, found true"),
        ("delete_every_nth_when_disk_full", "5", "expected a whole number, found a string ('5')"),
        ("capture_disabled", "false", "expected true or false, found a string ('false')"),
        ("sync_disabled", 1, "expected true or false, found a number (1)"),
        ("capture_dir", 7, "expected a string, found a number (7)"),
        ("selective_syncer_name", ["s"], "expected a string, found an array"),
        ("tags", "tag1", "expected an array, found a string ('tag1')"),
        ("additional_sync_paths", {"a": 1}, "expected an array, found an object"),
        (
            "mongo_capture_config",
            "mongodb://x",
            "expected an object, found a string ('mongodb://x')",
        ),
        ("disk_usage_deletion_threshold", float("inf"), "expected a finite number, found inf"),
    ],
)
def test_wrong_types_are_errors(attr: str, value: Any, message: str) -> None:
    assert errors(machine(dm={attr: value})) == {f"{P}.{attr}": message}


def test_integral_floats_are_whole_numbers_and_null_is_unset() -> None:
    dm = manager({"maximum_num_sync_threads": 6.0, "capture_dir": None, "tags": None})
    assert dm.maximum_num_sync_threads == 6
    assert dm.capture_dir == EXPECTED_DEFAULTS["capture_dir"]
    assert dm.tags == ()


def test_tags_are_checked_and_deduplicated() -> None:
    assert manager({"tags": ["a", "b", "a"]}).tags == ("a", "b")
    found = errors(machine(dm={"tags": ["ok", "not ok", "ü", "", 5]}))
    assert found == {
        f"{P}.tags[1]": "tag 'not ok' may only contain letters, digits, underscores and dashes",
        f"{P}.tags[2]": "tag 'ü' may only contain letters, digits, underscores and dashes",
        f"{P}.tags[3]": "tag '' may only contain letters, digits, underscores and dashes",
        f"{P}.tags[4]": "expected a string, found a number (5)",
    }


def test_mongo_capture_config() -> None:
    mongo = manager({"mongo_capture_config": {"uri": "mongodb://h:1"}}).mongo_capture_config
    assert (mongo.uri, mongo.database, mongo.collection, mongo.enabled) == (
        "mongodb://h:1",
        "sensorData",
        "readings",
        True,
    )
    found = errors(machine(dm={"mongo_capture_config": {"uri": "http://h", "database": 3}}))
    assert found == {
        f"{P}.mongo_capture_config.uri": "must start with mongodb:// or mongodb+srv://, "
        "got 'http://h'",
        f"{P}.mongo_capture_config.database": "expected a string, found a number (3)",
    }


def test_capture_control_sensor_needs_a_key_and_a_sensor() -> None:
    found = errors(machine(dm={"capture_control_sensor": {"name": "nope"}}))
    assert found == {
        f"{P}.capture_control_sensor.key": "required when capture_control_sensor.name is set",
        f"{P}.capture_control_sensor.name": "'nope' names no sensor in this config; there is "
        "no sensor",
    }


def test_backoff_cap_must_not_be_below_the_first_wait() -> None:
    found = errors(machine(dm={"sync_backoff_initial_ms": 5000, "sync_backoff_max_ms": 100}))
    assert found == {
        f"{P}.sync_backoff_max_ms": "must be at least sync_backoff_initial_ms (5000), got 100"
    }


def test_unknown_attributes_are_warned_with_a_suggestion() -> None:
    found = warnings(
        machine(dm={"sync_interval_min": 1, "colour": "red", "sync_interval_minutes": 2})
    )
    assert found == {
        f"{P}.sync_interval_min": "unknown attribute 'sync_interval_min' is ignored; did you "
        "mean 'sync_interval_mins'?",
        f"{P}.colour": "unknown attribute 'colour' is ignored",
        f"{P}.sync_interval_minutes": "'sync_interval_minutes' is ignored: the attribute is "
        "named sync_interval_mins (a typo in the docs)",
    }


def test_sync_interval_is_truncated_to_milliseconds() -> None:
    assert manager({"sync_interval_mins": 0.00012345}).sync_interval_s == 0.007
    assert manager({"sync_interval_mins": 0.123456}).sync_interval_s == 7.407


def test_only_one_data_manager() -> None:
    config = machine()
    config["services"].append({"name": "dm2", "type": "data_manager"})
    assert errors(config) == {
        "services[1]": "a second data_manager service (the first is services[0])"
    }


def test_a_data_manager_given_by_api_triplet() -> None:
    config = {
        "services": [
            {"name": "d", "api": "rdk:service:data_manager", "attributes": {"tags": ["x"]}}
        ]
    }
    dm = parse(config).data_manager
    assert dm is not None
    assert dm.tags == ("x",)


def test_no_data_manager() -> None:
    assert parse({}).data_manager is None


def test_the_promise_a_config_makes_the_judge() -> None:
    assert parse(
        machine(dm={"durability_window_ms": 250, "sync_offline_wait_secs": 5})
    ).promise() == Promise(durability_window_s=0.25, offline_wait_s=5.0)
    assert parse(machine(dm={"sync_disabled": True})).promise().sync_disabled
    default = parse(machine()).promise()
    assert default == DEFAULT_PROMISE
    # a machine without a data manager captures nothing; it is held to what one would promise
    assert parse({"components": []}).promise() == default


def test_while_one_config_replaces_another_the_looser_promise_holds() -> None:
    strict, loose = Promise(0.25, 60.0), Promise(1.0, 5.0, sync_disabled=True)
    assert strict.looser(loose) == loose.looser(strict) == Promise(1.0, 60.0, sync_disabled=True)
