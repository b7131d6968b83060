"""A scenario's fuzzing envelope: the file's ``fuzz.envelope`` bounds plus what the machine
offers (resources device faults may name, capture methods and data manager attributes
``reconfigure`` may change).

A reconfigure may set the durability window, the number of sync workers, and the sync and
offline intervals at or below the configured ones: a longer interval would hold the backlog
past a drain bound written for the configured machine, which is the config's doing, not a
fault the core must survive. It may also move the capture directory (to one of two siblings,
and back) and change storage: a rotation size that cuts a file every few readings or one that
makes uploads split, and deletion that fires while uploads run (a byte cap of a few files,
disk-full thresholds any disk in use reaches, every first or second file, checked every
second). Readings such a rule deletes are explained, not lost
(:func:`deletes_by_policy`), and a rule only ever takes load off the backlog. Now and then
it turns capture off, and a later one may turn it on again.

The quiet tail defaults to the scenario's ``drain_within`` expectation (or a tenth of the run)
so that generated faults stop early enough for the backlog to drain and liveness to be judged,
and the longest fault window to half of ``drain_within``: the per-file backoff after a window
of errors can wait about as long again before its next retry. A rejection that pauses every
upload (UNAVAILABLE, a refused key) ends the machine's offline interval earlier still, and a
clean restart the longest a shutdown waits for a refusing disk (a minute) earlier still.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dmsim.capture import SHUTDOWN_DRAIN_S
from dmsim.config import MachineConfig
from dmsim.faults import (
    DEFAULT_ENVELOPE_KINDS,
    RPC_NAMES,
    CaptureMethodRef,
    Envelope,
    ServiceSetting,
    parse_duration,
    parse_size,
)
from dmsim.sync import OFFLINE_CODES

from ._model import Expectations

__all__ = ["deletes_by_policy", "envelope_document", "envelope_from"]

_DURABILITY_WINDOWS_MS = (0, 250, 1000, 5000)
_SYNC_THREADS = (1, 2, 4)
_KIB = 1024
_ROTATION_BYTES = (_KIB,)  # plus four times the configured size, and back
_BYTE_CAPS = (64 * _KIB, 1024 * _KIB)  # and back
# A deletion threshold any disk in use reaches: one 4 KiB block of a disk up to 4 TB (the
# config allows any fraction above 0; 1e-6 of a 32 GiB disk is 34 KB, not reached by a
# machine that syncs all it captures).
_ANY_USAGE = 1e-9
_EVERY_NTH = (1, 2)
_CHECK_INTERVAL_S = 1.0
# Stale-data warning thresholds short enough to warn in most runs (rdk's is three minutes or
# more), so every fault is met by a warning the judge holds to the truth.
_STALE_WARNINGS_S = (5.0, 60.0)
# Attributes whose change can make a disk policy delete readings.
_DELETION_ATTRIBUTES = frozenset(
    {
        "capture_dir_max_bytes",
        "disk_usage_deletion_threshold",
        "capture_dir_deletion_threshold",
        "delete_every_nth_when_disk_full",
        "disk_check_interval_secs",
    }
)

_DURATIONS = {
    "min_window": "min_window_s",
    "max_window": "max_window_s",
    "max_restart_after": "max_restart_after_s",
    "max_clock_step": "max_clock_step_s",
    "max_latency": "max_latency_s",
    "quiet_tail": "quiet_tail_s",
}


def envelope_from(
    doc: Mapping[str, Any],
    *,
    machine: MachineConfig,
    duration: float,
    expectations: Expectations,
) -> Envelope:
    """The envelope for one scenario (``doc`` is its schema-checked ``fuzz.envelope``)."""
    default = Envelope()
    values: dict[str, Any] = {}
    for key, field_name in _DURATIONS.items():
        parsed = parse_duration(doc.get(key))
        if parsed is not None:
            values[field_name] = parsed
    if "quiet_tail_s" not in values:
        values["quiet_tail_s"] = expectations.drain_within_s or duration / 10
    if "max_window_s" not in values and expectations.drain_within_s:
        # Past an error window of length W, a file's exponential backoff (rdk's: the wait
        # roughly doubles the time already spent failing) can put its next retry up to W after
        # the window: windows longer than half the drain bound break the promise, not the core.
        half = expectations.drain_within_s / 2
        values["max_window_s"] = max(default.min_window_s, min(default.max_window_s, half))
    fill = parse_size(doc.get("max_disk_fill"))
    methods = tuple(
        sorted(
            {
                CaptureMethodRef(m.resource.short_name, m.method, m.capture_frequency_hz)
                for m in machine.capture_methods()
                if m.enabled
            },
            key=lambda ref: (ref.resource, ref.method, ref.capture_frequency_hz),
        )
    )
    components = tuple(
        sorted(
            {c.name for c in machine.components}
            | {m.resource.short_name for m in machine.capture_methods()}
        )
    )
    return Envelope(
        kinds=frozenset(doc["kinds"]) if "kinds" in doc else DEFAULT_ENVELOPE_KINDS,
        max_faults=int(doc.get("max_faults", default.max_faults)),
        max_loss=float(doc.get("max_loss", default.max_loss)),
        max_disk_fill_bytes=fill if fill is not None else default.max_disk_fill_bytes,
        rpc_codes=tuple(doc.get("rpc_codes", default.rpc_codes)),
        rpcs=tuple(sorted(doc["rpcs"], key=RPC_NAMES.index)) if "rpcs" in doc else default.rpcs,
        pausing_codes=OFFLINE_CODES,
        pause_s=machine.data_manager.sync_offline_wait_secs if machine.data_manager else 0.0,
        stop_s=SHUTDOWN_DRAIN_S,
        components=components,
        capture_methods=methods,
        data_manager_settings=_data_manager_settings(machine),
        **values,
    )


def _data_manager_settings(machine: MachineConfig) -> tuple[ServiceSetting, ...]:
    manager = machine.data_manager
    if manager is None:
        return ()
    current = {
        "durability_window_ms": manager.durability_window_ms,
        "maximum_num_sync_threads": manager.maximum_num_sync_threads,
    }
    settings = [
        ServiceSetting(name, tuple(v for v in values if v != current[name]))
        for name, values in (
            ("durability_window_ms", _DURABILITY_WINDOWS_MS),
            ("maximum_num_sync_threads", _SYNC_THREADS),
        )
    ]
    for name, value in (
        ("sync_interval_mins", manager.sync_interval_mins),
        ("sync_offline_wait_secs", manager.sync_offline_wait_secs),
    ):
        if value > 0:  # half of it, and back
            settings.append(ServiceSetting(name, (value / 2, value)))
    rotation = manager.maximum_capture_file_size_bytes
    capture_dir = manager.capture_dir.rstrip("/")
    settings_and_back: tuple[tuple[str, tuple[float | str, ...], float | str], ...] = (
        ("capture_dir", (capture_dir + "-moved", capture_dir + "-moved-2"), manager.capture_dir),
        ("maximum_capture_file_size_bytes", (*_ROTATION_BYTES, 4 * rotation), rotation),
        ("capture_dir_max_bytes", _BYTE_CAPS, manager.capture_dir_max_bytes),
        ("disk_usage_deletion_threshold", (_ANY_USAGE,), manager.disk_usage_deletion_threshold),
        ("capture_dir_deletion_threshold", (_ANY_USAGE,), manager.capture_dir_deletion_threshold),
        ("delete_every_nth_when_disk_full", _EVERY_NTH, manager.delete_every_nth_when_disk_full),
        ("disk_check_interval_secs", (_CHECK_INTERVAL_S,), manager.disk_check_interval_secs),
        ("stale_data_warning_secs", _STALE_WARNINGS_S, manager.stale_warning_s),
    )
    for name, values, configured in settings_and_back:
        settings.append(ServiceSetting(name, _and_back(values, configured)))
    if not manager.capture_disabled:  # off now and then, and on again
        settings.append(ServiceSetting("capture_disabled", (True, False), rare=True))
    # scheduled sync off now and then, and on again (or on, and off again)
    toggled = _and_back((not manager.sync_disabled,), manager.sync_disabled)
    settings.append(ServiceSetting("sync_disabled", toggled, rare=True))
    return tuple(settings)


def _and_back(values: tuple[float | str, ...], configured: float | str) -> tuple[float | str, ...]:
    """``values`` other than the configured one, then the configured one (a later
    reconfigure may restore it)."""
    return (*(v for v in values if v != configured), configured)


def deletes_by_policy(envelope: Envelope) -> bool:
    """Whether a schedule of ``envelope`` can make a disk policy delete readings: a
    reconfigure that changes a deletion rule, or a disk filled past the disk-full threshold."""
    kinds = envelope.usable_kinds()
    changes_rules = "reconfigure" in kinds and any(
        s.attribute in _DELETION_ATTRIBUTES for s in envelope.data_manager_settings
    )
    return changes_rules or "disk_fill" in kinds


def envelope_document(envelope: Envelope, *, drain_within_s: float | None) -> dict[str, Any]:
    """The ``fuzz.envelope`` mapping that :func:`envelope_from` turns back into ``envelope``
    (machine-derived parts are left out: they come from the machine)."""
    default = Envelope()
    doc: dict[str, Any] = {}
    if envelope.kinds != default.kinds:
        doc["kinds"] = sorted(envelope.kinds)
    for key in ("max_faults", "max_loss", "max_disk_fill_bytes", "rpc_codes", "rpcs"):
        value = getattr(envelope, key)
        if value != getattr(default, key):
            doc["max_disk_fill" if key == "max_disk_fill_bytes" else key] = (
                list(value) if isinstance(value, tuple) else value
            )
    for key, field_name in _DURATIONS.items():
        value = getattr(envelope, field_name)
        implied = drain_within_s if key == "quiet_tail" else getattr(default, field_name)
        if value != implied:
            doc[key] = value
    return doc
