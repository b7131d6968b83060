"""What the capture engine runs: one :class:`CollectorSpec` per enabled capture method.

A collector is identified by (resource, method, additional_params), as in rdk. Its settings are
resolved here, so the capture engine applies no defaults of its own.

**Tags.** rdk lets the data manager's ``tags`` replace a capture method's own ``tags``
(``builtin.go``), so per-method tags silently vanish as soon as service tags exist. dmsim takes
the **union**: the service's tags first, then the method's tags not already present, in order.
Neither list is ever lost, and a config with tags in only one place behaves as in rdk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ._methods import CaptureType
from ._model import CaptureMethodConfig, MachineConfig, ResourceRef, RetentionPolicy

__all__ = ["CollectorSpec", "collector_specs", "merge_tags"]

CollectorKey = tuple[str, str, str, tuple[tuple[str, str], ...]]


def merge_tags(service_tags: tuple[str, ...], method_tags: tuple[str, ...]) -> tuple[str, ...]:
    """The tags a collector applies: the union, service tags first (see the module doc)."""
    return tuple(dict.fromkeys((*service_tags, *method_tags)))


@dataclass(frozen=True, slots=True)
class CollectorSpec:
    """Everything needed to run one collector, defaults and precedence applied."""

    resource: ResourceRef
    method: str
    additional_params: Mapping[str, str]
    capture_type: CaptureType
    capture_frequency_hz: float
    capture_queue_size: int
    capture_buffer_size: int
    cache_size_kb: float
    tags: tuple[str, ...]
    mime_type: str  # "" for tabular methods
    file_extension: str  # ".dat", ".jpeg", ".png", ".pcd"
    retention_policy: RetentionPolicy | None
    config_path: str = field(compare=False)  # the capture method's JSON path, for messages

    @property
    def key(self) -> CollectorKey:
        """(api, short name, method, params): what makes a collector distinct."""
        params = tuple(sorted(self.additional_params.items()))
        return (self.resource.api, self.resource.short_name, self.method, params)

    @property
    def interval_s(self) -> float:
        return 1.0 / self.capture_frequency_hz

    @classmethod
    def from_method(
        cls, method: CaptureMethodConfig, *, service_tags: tuple[str, ...] = ()
    ) -> CollectorSpec:
        return cls(
            resource=method.resource,
            method=method.method,
            additional_params=MappingProxyType(dict(method.additional_params)),
            capture_type=method.capture_type,
            capture_frequency_hz=method.capture_frequency_hz,
            capture_queue_size=method.capture_queue_size,
            capture_buffer_size=method.capture_buffer_size,
            cache_size_kb=method.cache_size_kb,
            tags=merge_tags(service_tags, method.tags),
            mime_type=method.mime_type if method.capture_type == "binary" else "",
            file_extension=method.file_extension,
            retention_policy=method.retention_policy,
            config_path=method.path,
        )


def collector_specs(config: MachineConfig) -> tuple[CollectorSpec, ...]:
    """Every collector the machine runs, in config order (components, services, remotes).

    Empty when there is no data_manager service or ``capture_disabled`` is set; disabled
    methods (including those whose frequency is ≤ 0) are left out.
    """
    manager = config.data_manager
    if manager is None or manager.capture_disabled:
        return ()
    return tuple(
        CollectorSpec.from_method(method, service_tags=manager.tags)
        for method in config.capture_methods()
        if method.enabled
    )
