"""Fault schedules: faults as data at absolute simulated times, their catalogue of kinds, the
strength order used to shrink them, and hypothesis strategies inside a promised envelope."""

from ._envelope import DEFAULT_ENVELOPE_KINDS, CaptureMethodRef, Envelope, ServiceSetting
from ._kinds import DISK_OPS, GROUPS, KINDS, RPC_CODES, RPC_NAMES, KindSpec, ParamSpec, kind_spec
from ._model import FaultSchedule, FaultStep, parse_schedule, parse_step, step_problems
from ._strategies import fault_schedules
from ._units import format_duration, format_size, parse_duration, parse_size
from ._weaken import MIN_WINDOW_S, PROBABILITY_LADDER, weaker_variants

__all__ = [
    "DEFAULT_ENVELOPE_KINDS",
    "DISK_OPS",
    "GROUPS",
    "KINDS",
    "MIN_WINDOW_S",
    "PROBABILITY_LADDER",
    "RPC_CODES",
    "RPC_NAMES",
    "CaptureMethodRef",
    "Envelope",
    "FaultSchedule",
    "FaultStep",
    "KindSpec",
    "ParamSpec",
    "ServiceSetting",
    "fault_schedules",
    "format_duration",
    "format_size",
    "kind_spec",
    "parse_duration",
    "parse_schedule",
    "parse_size",
    "parse_step",
    "step_problems",
    "weaker_variants",
]
