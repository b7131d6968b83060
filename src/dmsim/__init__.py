"""dmsim: a Viam-compatible data capture/sync core for edge machines, and the deterministic
simulation harness that proves it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dmsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
