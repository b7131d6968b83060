"""Network faults: a simulated link and transport on the runtime port, and a real TCP fault proxy.

- :class:`SimLink`: a device↔cloud link on simulated time (up/down schedule, connectivity-trace
  replay, scheduled impairments, latency, jitter, bandwidth, loss, reset after N bytes;
  seeded, traced).
- :class:`SimCloudTransport`: the cloud transport port over a :class:`SimLink` to an in-process
  cloud core, with client-side ok/fail/unknown outcomes recorded per attempt.
- :class:`FaultProxy`, :class:`ProxyApi`: a real asyncio TCP proxy with Toxiproxy-style toxics,
  seeded decisions, an HTTP control API and wall-clock fault schedules (``dmsim proxy``).
"""

from typing import TYPE_CHECKING, Any

from ._conntrace import ConnectivityRow, load_connectivity_trace, parse_connectivity_trace
from ._params import Direction, DirectionParams, DownWindow, Impairment, LinkParams, OutageModel
from ._profiles import PROFILES, LinkProfile, profile
from ._proxy import FaultProxy, ProxyEvent, ProxyStatistics, parse_address
from ._schedule import (
    ActionKind,
    ProxyAction,
    load_proxy_schedule,
    parse_proxy_schedule,
    run_proxy_schedule,
)
from ._simlink import LinkDownError, LinkResetError, LinkStatistics, LinkTimeoutError, SimLink
from ._simtransport import (
    ClientOutcome,
    SimCloudTransport,
    SimTransportStatistics,
    UploadAttempt,
)
from ._timeline import (
    LinkState,
    LinkTimeline,
    Settled,
    TransferEnd,
    TransferPlan,
    plan_transfer,
    settle,
)
from ._toxics import (
    Stream,
    Toxic,
    ToxicConflictError,
    ToxicNotFoundError,
    ToxicType,
    applies,
    latency_seconds,
    parse_toxic,
    slice_sizes,
    update_toxic,
)

if TYPE_CHECKING:
    from ._api import ProxyApi

__all__ = [
    "PROFILES",
    "ActionKind",
    "ClientOutcome",
    "ConnectivityRow",
    "Direction",
    "DirectionParams",
    "DownWindow",
    "FaultProxy",
    "Impairment",
    "LinkDownError",
    "LinkParams",
    "LinkProfile",
    "LinkResetError",
    "LinkState",
    "LinkStatistics",
    "LinkTimeline",
    "LinkTimeoutError",
    "OutageModel",
    "ProxyAction",
    "ProxyApi",
    "ProxyEvent",
    "ProxyStatistics",
    "Settled",
    "SimCloudTransport",
    "SimLink",
    "SimTransportStatistics",
    "Stream",
    "Toxic",
    "ToxicConflictError",
    "ToxicNotFoundError",
    "ToxicType",
    "TransferEnd",
    "TransferPlan",
    "UploadAttempt",
    "applies",
    "latency_seconds",
    "load_connectivity_trace",
    "load_proxy_schedule",
    "parse_address",
    "parse_connectivity_trace",
    "parse_proxy_schedule",
    "parse_toxic",
    "plan_transfer",
    "profile",
    "run_proxy_schedule",
    "settle",
    "slice_sizes",
    "update_toxic",
]


def __getattr__(name: str) -> Any:
    # The proxy's HTTP API pulls in aiohttp, a fifth of a second at start-up that only
    # `dmsim proxy` needs: imported when first asked for.
    if name == "ProxyApi":
        from ._api import ProxyApi

        return ProxyApi
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
