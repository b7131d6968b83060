"""The catalogue of fault kinds: what each one does, its parameters, and whether it has a window.

One table drives validation (:mod:`._model`), the scenario JSON Schema, the hypothesis
strategies and the shrinker, so a kind is described exactly once. Parameter values in a
:class:`~dmsim.faults.FaultStep` are normalised: durations in seconds, sizes in bytes.

Windows: a *windowed* fault holds from ``at`` until ``at + duration`` (``required``); some may
last until the end of the run when ``duration`` is left out (``optional``); *instant* faults
happen at ``at`` and take no duration (``forbidden``). RPC faults may be bounded by a window, by
a ``count`` of calls, or both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DISK_OPS",
    "GROUPS",
    "KINDS",
    "RPC_CODES",
    "RPC_NAMES",
    "KindSpec",
    "ParamSpec",
    "ParamType",
    "Window",
    "kind_spec",
]

ParamType = Literal[
    "number",
    "integer",
    "string",
    "boolean",
    "duration",
    "signed_duration",
    "size",
    "strings",
    "changes",
    "object",
]
Window = Literal["required", "optional", "forbidden"]

# The cloud's table (dmsim.cloud.RPC_NAMES), repeated so that scenarios load without the cloud
# stack; a test keeps the two equal.
RPC_NAMES: tuple[str, ...] = (
    "DataCaptureUpload", "FileUpload", "StreamingDataCaptureUpload", "CreateSequence",
)  # fmt: skip
RPC_CODES: tuple[str, ...] = (
    "UNAVAILABLE",
    "RESOURCE_EXHAUSTED",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "INTERNAL",
    "INVALID_ARGUMENT",
)
DISK_OPS: tuple[str, ...] = ("open", "write", "fsync", "rename", "unlink", "fsync_dir", "read")
GROUPS: tuple[str, ...] = ("network", "rpc", "disk", "process", "reconfigure", "clock", "device")


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter: its type and bounds (``minimum`` inclusive, ``above`` exclusive)."""

    name: str
    type: ParamType
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    choices: tuple[str, ...] = ()
    nonzero: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: str
    group: str
    window: Window
    params: tuple[ParamSpec, ...]
    description: str
    counted: bool = False  # an RPC fault that may be bounded by ``count`` instead of a window

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


_DIRECTION = ParamSpec(
    "direction",
    "string",
    choices=("upstream", "downstream", "both"),
    description="which direction of the link (default both)",
)
_RPCS = ParamSpec(
    "rpcs", "strings", choices=RPC_NAMES, description="RPCs it applies to (default all)"
)
_COUNT = ParamSpec("count", "integer", minimum=1, description="at most this many calls")
_PREFIX = ParamSpec(
    "prefix",
    "string",
    description="path prefix relative to the capture directory ('' = every file)",
)
_COMPONENT = ParamSpec("component", "string", required=True, description="resource name")

KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        # network: the simulated link (or the TCP proxy on a bench)
        KindSpec("link_down", "network", "required", (), "the link to the cloud is down"),
        KindSpec(
            "latency",
            "network",
            "required",
            (
                ParamSpec("seconds", "duration", required=True, description="one-way latency"),
                ParamSpec("jitter", "duration", description="uniform ± spread"),
                _DIRECTION,
            ),
            "extra one-way latency",
        ),
        KindSpec(
            "bandwidth",
            "network",
            "required",
            (ParamSpec("bytes_per_s", "number", required=True, above=0), _DIRECTION),
            "bandwidth cap",
        ),
        KindSpec(
            "loss",
            "network",
            "required",
            (ParamSpec("probability", "number", required=True, above=0, maximum=1), _DIRECTION),
            "each message lost with this probability (the sender times out)",
        ),
        KindSpec(
            "reset_after_bytes",
            "network",
            "required",
            (ParamSpec("bytes", "size", required=True, above=0), _DIRECTION),
            "connections reset after this many bytes",
        ),
        # rpc: the fake cloud's protocol-level faults
        KindSpec(
            "rpc_reject",
            "rpc",
            "optional",
            (ParamSpec("code", "string", required=True, choices=RPC_CODES), _RPCS, _COUNT),
            "calls rejected with a gRPC status code (nothing committed)",
            counted=True,
        ),
        KindSpec(
            "drop_ack_after_commit",
            "rpc",
            "optional",
            (_RPCS, _COUNT),
            "the cloud commits, then the acknowledgement is lost (client sees unknown)",
            counted=True,
        ),
        KindSpec(
            "slow_ack",
            "rpc",
            "optional",
            (ParamSpec("seconds", "duration", required=True, above=0), _RPCS, _COUNT),
            "the acknowledgement is delayed",
            counted=True,
        ),
        KindSpec(
            "stall_mid_stream",
            "rpc",
            "optional",
            (ParamSpec("after_bytes", "size", minimum=0), _RPCS, _COUNT),
            "a streaming upload stalls after some bytes until the client gives up",
            counted=True,
        ),
        KindSpec(
            "restart_mid_stream",
            "rpc",
            "optional",
            (
                ParamSpec("after_bytes", "size", minimum=0),
                ParamSpec("commit", "boolean", description="commit before dying (default no)"),
                _RPCS,
                _COUNT,
            ),
            "the cloud process restarts in the middle of a call",
            counted=True,
        ),
        KindSpec(
            "cloud_storage_full",
            "rpc",
            "required",
            (),
            "the cloud refuses uploads with RESOURCE_EXHAUSTED (storage full)",
        ),
        # disk: the simulated filesystem (a ballast file or dm-flakey on a bench)
        KindSpec(
            "disk_fill",
            "disk",
            "optional",
            (ParamSpec("bytes", "size", required=True, above=0),),
            "a ballast of this many bytes fills the disk (removed when the window ends)",
        ),
        KindSpec(
            "disk_eio",
            "disk",
            "required",
            (
                _PREFIX,
                ParamSpec("ops", "strings", choices=DISK_OPS, description="default: all"),
                ParamSpec("probability", "number", above=0, maximum=1),
            ),
            "matching filesystem operations fail with EIO",
        ),
        KindSpec(
            "disk_capacity",
            "disk",
            "optional",
            (ParamSpec("bytes", "size", required=True, above=0),),
            "the disk's capacity changes (e.g. a smaller SD card)",
        ),
        KindSpec(
            "disk_append_garbage",
            "disk",
            "forbidden",
            (_PREFIX, ParamSpec("bytes", "size", required=True, above=0)),
            "random bytes appended to every completed capture file under the prefix",
        ),
        # process
        KindSpec(
            "crash",
            "process",
            "forbidden",
            (ParamSpec("restart_after", "duration", required=True, minimum=0),),
            "power cut / SIGKILL: RAM and unsynced data lost; restart after a delay",
        ),
        KindSpec(
            "clean_restart",
            "process",
            "forbidden",
            (ParamSpec("restart_after", "duration", minimum=0),),
            "orderly shutdown (Close) and restart",
        ),
        KindSpec(
            "reconfigure",
            "reconfigure",
            "forbidden",
            (
                ParamSpec("changes", "changes", description="capture method changes"),
                ParamSpec("data_manager", "object", description="data_manager attributes"),
            ),
            "the machine config changes: applied in place, or, while the process is down, "
            "read by the next boot",
        ),
        # operator
        KindSpec(
            "manual_sync",
            "operator",
            "forbidden",
            (),
            "an operator's Sync() (`kill -USR1` on `dmsim machine`): one pass now, whatever "
            "the schedule, the offline pause or a file's backoff",
        ),
        # clock
        KindSpec(
            "clock_step",
            "clock",
            "forbidden",
            (ParamSpec("seconds", "signed_duration", required=True, nonzero=True),),
            "the wall clock steps (NTP); monotonic time is unaffected",
        ),
        KindSpec(
            "rtc_unset",
            "clock",
            "required",
            (),
            "the wall clock reads 1970 (no RTC) until NTP sets it when the window ends",
        ),
        # device
        KindSpec(
            "device_read_error",
            "device",
            "required",
            (_COMPONENT, ParamSpec("method", "string")),
            "captures from the resource (of one capture method, if given) fail with a read error",
        ),
        KindSpec("device_timeout", "device", "required", (_COMPONENT,), "captures hang"),
        KindSpec(
            "device_disconnect",
            "device",
            "required",
            (_COMPONENT,),
            "the device is unplugged; it reconnects when the window ends",
        ),
        KindSpec(
            "device_stuck", "device", "required", (_COMPONENT,), "the device repeats its value"
        ),
    )
}


def kind_spec(kind: str) -> KindSpec | None:
    return KINDS.get(kind)
