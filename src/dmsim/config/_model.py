"""The machine config as frozen values.

Every value here is *effective*: defaults are filled in and rdk's quiet substitutions are
applied (a capture queue size of 0 is 250; a method whose frequency is ≤ 0 is disabled), so
consumers never re-derive them. ``to_effective_dict`` turns a config back into JSON that parses
to an equal config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from dmsim.errors import Problem

from ._jsonpos import JsonPath, JsonValue, format_path
from ._methods import CaptureType, file_extension, method_spec

__all__ = [
    "CaptureControlSensorConfig",
    "CaptureMethodConfig",
    "ComponentConfig",
    "DataManagerConfig",
    "MachineConfig",
    "ModuleConfig",
    "MongoCaptureConfig",
    "RemoteConfig",
    "ResourceRef",
    "RetentionPolicy",
    "ServiceConfig",
    "stale_threshold_s",
]


STALE_MIN_THRESHOLD_S = 180.0


def stale_threshold_s(sync_interval_s: float) -> float:
    """rdk's stale-data warning threshold when none is configured: ten sync intervals, and
    at least 3 minutes."""
    return max(10.0 * sync_interval_s, STALE_MIN_THRESHOLD_S)


def _no_params() -> Mapping[str, str]:
    return MappingProxyType({})


def _no_attributes() -> Mapping[str, JsonValue]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """Which resource a capture method reads: its API triplet, short name and remote (if any).

    ``str(ref)`` is rdk's fully qualified form, e.g. ``rdk:component:board/esp-home:my-esp32``.
    """

    api: str  # "rdk:component:camera", "rdk:service:vision"
    name: str  # the resource's own name
    remote: str = ""  # the remote part it lives on; "" for a local resource

    @property
    def kind(self) -> str:
        """``component`` or ``service``."""
        return self.api.split(":")[1]

    @property
    def subtype(self) -> str:
        """The resource type, e.g. ``camera``."""
        return self.api.split(":")[2]

    @property
    def short_name(self) -> str:
        """``name``, prefixed by ``remote:`` for a remote resource (rdk's ShortName)."""
        return f"{self.remote}:{self.name}" if self.remote else self.name

    def __str__(self) -> str:
        return f"{self.api}/{self.short_name}"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long the cloud keeps this data (cloud-side; days and size limits in GB)."""

    days: int | None = None
    binary_limit_gb: int | None = None
    tabular_limit_gb: int | None = None


@dataclass(frozen=True, slots=True)
class CaptureMethodConfig:
    """One entry of ``capture_methods``, resolved to the resource it belongs to."""

    resource: ResourceRef
    method: str
    capture_frequency_hz: float
    additional_params: Mapping[str, str] = field(default_factory=_no_params)
    disabled: bool = False  # also True when the frequency is ≤ 0 (with a warning)
    cache_size_kb: float = 1.0
    capture_queue_size: int = 250
    capture_buffer_size: int = 4096
    retention_policy: RetentionPolicy | None = None
    name: str = ""  # the `name` field as written (remote capture methods name their resource)
    tags: tuple[str, ...] = ()
    json_path: JsonPath = field(default=(), compare=False)  # where it is in the config

    @property
    def path(self) -> str:
        """Where this method is in the config, e.g. ``components[2].service_configs[0]...``."""
        return format_path(self.json_path)

    @property
    def enabled(self) -> bool:
        return not self.disabled

    @property
    def capture_type(self) -> CaptureType:
        spec = method_spec(self.resource.api, self.method)
        return spec.capture_type if spec else "tabular"

    @property
    def mime_type(self) -> str:
        """The MIME type captured: the ``mime_type`` param or the method's default."""
        spec = method_spec(self.resource.api, self.method)
        default = spec.default_mime_type if spec else ""
        return self.additional_params.get("mime_type", "") or default

    @property
    def file_extension(self) -> str:
        spec = method_spec(self.resource.api, self.method)
        return file_extension(spec, self.mime_type) if spec else ""


@dataclass(frozen=True, slots=True)
class ComponentConfig:
    name: str
    type: str
    model: str
    namespace: str = "rdk"
    attributes: Mapping[str, JsonValue] = field(default_factory=_no_attributes)
    depends_on: tuple[str, ...] = ()
    capture_methods: tuple[CaptureMethodConfig, ...] = ()
    json_path: JsonPath = field(default=(), compare=False)

    @property
    def api(self) -> str:
        return f"{self.namespace}:component:{self.type}"


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """A service; a vision service may carry capture methods, like a component."""

    name: str
    type: str
    model: str = "rdk:builtin:builtin"
    namespace: str = "rdk"
    attributes: Mapping[str, JsonValue] = field(default_factory=_no_attributes)
    depends_on: tuple[str, ...] = ()
    capture_methods: tuple[CaptureMethodConfig, ...] = ()
    json_path: JsonPath = field(default=(), compare=False)

    @property
    def api(self) -> str:
        return f"{self.namespace}:service:{self.type}"


@dataclass(frozen=True, slots=True)
class RemoteConfig:
    """A remote part; its capture methods name remote resources (``rdk:component:board/x``)."""

    name: str
    address: str
    secret: str = ""
    capture_methods: tuple[CaptureMethodConfig, ...] = ()
    json_path: JsonPath = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class ModuleConfig:
    """A module: ``registry`` (``module_id`` + ``version``) or ``local`` (``executable_path``)."""

    name: str
    type: str = "registry"
    module_id: str = ""
    version: str = ""
    executable_path: str = ""
    log_level: str = ""
    env: Mapping[str, str] = field(default_factory=_no_params)
    json_path: JsonPath = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class MongoCaptureConfig:
    """Also write tabular readings to MongoDB (off while ``uri`` is empty)."""

    uri: str = ""
    database: str = "sensorData"
    collection: str = "readings"

    @property
    def enabled(self) -> bool:
        return bool(self.uri)


@dataclass(frozen=True, slots=True)
class CaptureControlSensorConfig:
    """rdk's capture control sensor (off while ``name`` is empty): a sensor whose reading under
    ``key`` overrides frequencies and tags per resource and method."""

    name: str = ""
    key: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataManagerConfig:
    """Every ``data_manager`` attribute with its effective value.

    See :data:`dmsim.config.DATA_MANAGER_ATTRIBUTES` for each attribute's meaning and default;
    the fields after ``cache_size_kb`` are dmsim extensions that Viam's implementation ignores.
    ``capture_dir`` and ``maximum_num_sync_threads`` have no fixed default: parsing derives
    them from the environment and the CPU count.
    """

    name: str = "data_manager"
    capture_dir: str
    tags: tuple[str, ...] = ()
    capture_disabled: bool = False
    sync_disabled: bool = False
    additional_sync_paths: tuple[str, ...] = ()
    sync_interval_mins: float = 0.1
    file_last_modified_millis: int = 10000
    maximum_num_sync_threads: int
    maximum_capture_file_size_bytes: int = 262144
    delete_every_nth_when_disk_full: int = 5
    disk_usage_deletion_threshold: float = 0.9
    capture_dir_deletion_threshold: float = 0.5
    selective_syncer_name: str = ""
    mongo_capture_config: MongoCaptureConfig = field(default_factory=MongoCaptureConfig)
    capture_control_sensor: CaptureControlSensorConfig = field(
        default_factory=CaptureControlSensorConfig
    )
    delete_data_on_part_deletion: bool = False
    cache_size_kb: float = 1.0
    # dmsim extensions
    durability_window_ms: int = 1000
    disk_check_interval_secs: float = 30.0
    capture_dir_max_bytes: int = 0
    sync_backoff_initial_ms: int = 200
    sync_backoff_max_ms: int = 3_600_000
    sync_offline_wait_secs: float = 60.0
    sync_backoff_jitter: float = 0.1
    stale_data_warning_secs: float | None = None  # None: rdk's rule, stale_threshold_s
    max_upload_message_bytes: int = 1024 * 1024
    explicit: frozenset[str] = field(default=frozenset(), compare=False)  # attributes set
    json_path: JsonPath = field(default=(), compare=False)  # its service's attributes

    @property
    def sync_interval_s(self) -> float:
        """The sync period in seconds, truncated to whole milliseconds as rdk does."""
        return int(self.sync_interval_mins * 60_000) / 1000

    @property
    def durability_window_s(self) -> float:
        return self.durability_window_ms / 1000

    @property
    def stale_warning_s(self) -> float:
        """How old unsynced data may grow before sync warns about it (0: never)."""
        configured = self.stale_data_warning_secs
        return stale_threshold_s(self.sync_interval_s) if configured is None else configured


class Promise(NamedTuple):
    """What a config promises about captured readings, which the judge holds each one to: a
    power cut takes at most the last ``durability_window_s`` of them, sync tries an
    unreachable cloud again within ``offline_wait_s``, and (unless ``sync_disabled``: only a
    manual Sync uploads then) on its schedule, every ``sync_interval_s``; unsynced data older
    than ``stale_warning_s`` is warned about (0: never)."""

    durability_window_s: float
    offline_wait_s: float
    sync_disabled: bool = False
    sync_interval_s: float = 6.0
    stale_warning_s: float = 180.0

    def looser(self, other: Promise) -> Promise:
        """Field by field, the looser of the two: what holds while one config replaces the
        other (no warning at all is the loosest)."""
        warnings = (self.stale_warning_s, other.stale_warning_s)
        return Promise(
            max(self.durability_window_s, other.durability_window_s),
            max(self.offline_wait_s, other.offline_wait_s),
            self.sync_disabled or other.sync_disabled,
            max(self.sync_interval_s, other.sync_interval_s),
            0.0 if 0.0 in warnings else max(warnings),
        )


DEFAULT_PROMISE = Promise(durability_window_s=1.0, offline_wait_s=60.0)  # a default data manager's


@dataclass(frozen=True, slots=True)
class MachineConfig:
    """A machine part's config. ``data_manager`` is None when no data_manager service exists."""

    components: tuple[ComponentConfig, ...] = ()
    services: tuple[ServiceConfig, ...] = ()
    remotes: tuple[RemoteConfig, ...] = ()
    modules: tuple[ModuleConfig, ...] = ()
    data_manager: DataManagerConfig | None = None
    warnings: tuple[Problem, ...] = field(default=(), compare=False)
    source: str = field(default="", compare=False)

    def promise(self) -> Promise:
        """The data manager's promise; without one (nothing is captured), a default one's."""
        manager = self.data_manager
        if manager is None:
            return DEFAULT_PROMISE
        return Promise(
            manager.durability_window_s,
            manager.sync_offline_wait_secs,
            manager.sync_disabled,
            manager.sync_interval_s,
            manager.stale_warning_s,
        )

    def capture_methods(self) -> tuple[CaptureMethodConfig, ...]:
        """Every capture method, enabled or not: components, then services, then remotes."""
        owners: tuple[ComponentConfig | ServiceConfig | RemoteConfig, ...] = (
            *self.components,
            *self.services,
            *self.remotes,
        )
        return tuple(m for owner in owners for m in owner.capture_methods)
