"""The public surface of ``dmsim.config`` is pinned: changing it is a decision, not an accident."""

from __future__ import annotations

import dmsim.config
import dmsim.config.strategies

PUBLIC = [
    "DATA_MANAGER_ATTRIBUTES",
    "DEFAULT_PROMISE",
    "MAX_CONFIG_BYTES",
    "METHODS",
    "MIME_EXTENSIONS",
    "SEQUENCES_KEY",
    "TAG_PATTERN",
    "AttributeSpec",
    "CaptureControlSensorConfig",
    "CaptureMethodConfig",
    "CaptureType",
    "CollectorSpec",
    "ComponentConfig",
    "ControlOverride",
    "ControlReadingError",
    "DataManagerConfig",
    "JsonPath",
    "JsonValue",
    "MachineConfig",
    "MethodSpec",
    "ModuleConfig",
    "MongoCaptureConfig",
    "Overrides",
    "ParamSpec",
    "Promise",
    "RemoteConfig",
    "ResourceRef",
    "RetentionPolicy",
    "SequenceReading",
    "ServiceConfig",
    "collector_specs",
    "controlled_specs",
    "default_capture_dir",
    "default_sync_threads",
    "file_extension",
    "format_path",
    "load_machine_config",
    "loads_machine_config",
    "merge_tags",
    "method_spec",
    "parse_control_overrides",
    "parse_control_sequences",
    "parse_machine_config",
    "stale_threshold_s",
    "state_dir",
    "to_effective_dict",
]


def test_public_names_are_pinned() -> None:
    assert sorted(dmsim.config.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(dmsim.config, name) is not None


def test_strategies_public_names() -> None:
    assert sorted(dmsim.config.strategies.__all__) == [
        "capture_methods",
        "data_manager_attributes",
        "machine_configs",
        "names",
        "tags",
    ]


def test_importing_config_does_not_import_hypothesis() -> None:
    import subprocess
    import sys

    code = "import sys, dmsim.config; print('hypothesis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
