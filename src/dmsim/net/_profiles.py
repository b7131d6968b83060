"""Named link profiles: a starting point for scenarios, overridable field by field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dmsim.errors import ConfigError, Problem

from ._params import DirectionParams, LinkParams, OutageModel

__all__ = ["PROFILES", "LinkProfile", "profile"]

_KB = 1000.0
_MBIT = 1_000_000.0 / 8  # bytes per second in one megabit per second


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """A link's base behaviour: parameters, whether it starts up, and random outages."""

    name: str
    params: LinkParams
    up: bool = True
    outages: OutageModel | None = None
    description: str = ""


PROFILES: Mapping[str, LinkProfile] = MappingProxyType(
    {
        p.name: p
        for p in (
            LinkProfile(
                "lan",
                LinkParams.symmetric(
                    DirectionParams(latency=0.0005, jitter=0.0001, bandwidth=100 * _MBIT)
                ),
                description="wired 100 Mbit/s Ethernet to a nearby cloud",
            ),
            LinkProfile(
                "wifi-flaky",
                LinkParams.symmetric(
                    DirectionParams(latency=0.005, jitter=0.02, bandwidth=20 * _MBIT, loss=0.02)
                ),
                outages=OutageModel(mean_up=120.0, mean_down=10.0),
                description="congested Wi-Fi: 20 Mbit/s, 2 % loss, ~10 s drop-outs every ~2 min",
            ),
            LinkProfile(
                "lte",
                LinkParams(
                    upstream=DirectionParams(
                        latency=0.04, jitter=0.015, bandwidth=10 * _MBIT, loss=0.005
                    ),
                    downstream=DirectionParams(
                        latency=0.04, jitter=0.015, bandwidth=40 * _MBIT, loss=0.005
                    ),
                ),
                outages=OutageModel(mean_up=3600.0, mean_down=30.0),
                description="LTE modem: 10/40 Mbit/s up/down, 40 ms, rare 30 s outages",
            ),
            LinkProfile(
                "satellite",
                LinkParams(
                    upstream=DirectionParams(
                        latency=0.3, jitter=0.05, bandwidth=256 * _KB, loss=0.01
                    ),
                    downstream=DirectionParams(
                        latency=0.3, jitter=0.05, bandwidth=1.25 * 1000 * _KB, loss=0.01
                    ),
                ),
                outages=OutageModel(mean_up=1800.0, mean_down=60.0),
                description="geostationary satellite: 300 ms one way, 256 KB/s up, 1 % loss",
            ),
            LinkProfile(
                "offline",
                LinkParams(),
                up=False,
                description="no connectivity at all",
            ),
        )
    }
)  # read-only: a catalogue, not state


def profile(name: str) -> LinkProfile:
    """The named profile; a clear error listing the known names otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ConfigError(
            Problem("profile", f"unknown link profile {name!r}; known: {known}")
        ) from None
