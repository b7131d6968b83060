"""The machine config: Viam's JSON, modelled as frozen values, validated with precise errors.

Load and validate::

    cfg = load_machine_config("machine.json")      # or loads_machine_config(text)
    cfg = parse_machine_config(already_parsed_dict)
    for spec in collector_specs(cfg):              # what the capture engine runs
        ...
    to_effective_dict(cfg)                         # JSON with every default written out

Every problem is reported at once in a :class:`~dmsim.errors.ConfigError` whose ``problems``
name the JSON path (``components[2].service_configs[0].attributes.capture_methods[1]
.capture_frequency_hz``), the reason and, for text, the line and column. Things rdk quietly
reinterprets are warnings (``severity == "warning"``), kept in ``MachineConfig.warnings``.

Tables: :data:`METHODS` (which API captures which method, capture type, parameters, file
extension) and :data:`DATA_MANAGER_ATTRIBUTES` (every data_manager attribute, its default, range
and meaning, dmsim's extensions marked, e.g. ``durability_window_ms``: data is fsynced at least
this often, 1000 by default).

Tags: a collector applies the **union** of the data manager's ``tags`` and the capture method's
own ``tags`` (service tags first). rdk instead lets service tags replace per-method tags, which
silently drops the method's tags; the union loses nothing and equals rdk's result whenever tags
are set in only one place.
"""

from ._attributes import DATA_MANAGER_ATTRIBUTES, TAG_PATTERN, AttributeSpec
from ._collectors import CollectorSpec, collector_specs, merge_tags
from ._control import (
    SEQUENCES_KEY,
    ControlOverride,
    ControlReadingError,
    Overrides,
    SequenceReading,
    controlled_specs,
    parse_control_overrides,
    parse_control_sequences,
)
from ._data_manager import default_capture_dir, default_sync_threads, state_dir
from ._effective import to_effective_dict
from ._jsonpos import JsonPath, JsonValue, format_path
from ._load import MAX_CONFIG_BYTES, load_machine_config, loads_machine_config
from ._methods import (
    METHODS,
    MIME_EXTENSIONS,
    CaptureType,
    MethodSpec,
    ParamSpec,
    file_extension,
    method_spec,
)
from ._model import (
    DEFAULT_PROMISE,
    CaptureControlSensorConfig,
    CaptureMethodConfig,
    ComponentConfig,
    DataManagerConfig,
    MachineConfig,
    ModuleConfig,
    MongoCaptureConfig,
    Promise,
    RemoteConfig,
    ResourceRef,
    RetentionPolicy,
    ServiceConfig,
    stale_threshold_s,
)
from ._parse import parse_machine_config

__all__ = [
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
