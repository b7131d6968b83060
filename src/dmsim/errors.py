"""One error root, with families that say whose fault it was.

- :class:`ConfigError` / :class:`ScenarioError`: the user's input is wrong (with path and line).
- :class:`DeviceError`: a device misbehaved (read error, timeout, disconnect).
- :class:`StorageError`: a capture file or the disk is not what it should be.
- :class:`CloudError`: the cloud (or the link to it) refused or failed an upload.
- :class:`InjectedFault`: a fault the harness injected on purpose (carries the fault id).
- :class:`InvariantViolation`: the core broke a promise (carries seed, time, event index).
- :class:`InternalError`: a bug in dmsim itself.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CloudError",
    "ConfigError",
    "DeviceError",
    "DmsimError",
    "InjectedFault",
    "InternalError",
    "InvariantViolation",
    "Problem",
    "ScenarioError",
    "StorageError",
]


class DmsimError(Exception):
    """Root of every error dmsim raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a user's input: where (a JSON path, maybe a line) and why."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f" (line {self.line}" + (
                f", column {self.column})" if self.column is not None else ")"
            )
        return f"{where.strip()}: {self.message}" if where else self.message


class _InputError(DmsimError):
    """An error in user input carrying every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem, *, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        errors = [p for p in self.problems if p.severity != "warning"]
        warnings = [p for p in self.problems if p.severity == "warning"]
        count = f"{len(errors)} problem(s)" + (
            f", and {len(warnings)} warning(s)" if warnings else ""
        )
        lines = [f"{head}{count}", *(f"  {p}" for p in errors)]
        lines += [f"  warning: {p}" for p in warnings]
        super().__init__("\n".join(lines))


class ConfigError(_InputError):
    """The machine config is invalid."""


class ScenarioError(_InputError):
    """A scenario file is invalid."""


class DeviceError(DmsimError):
    """A device failed to answer as expected."""


class StorageError(DmsimError):
    """A capture file or the filesystem under it is damaged or unusable."""


class CloudError(DmsimError):
    """An upload was refused or failed; ``code`` is a gRPC status name such as UNAVAILABLE."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


class InjectedFault(DmsimError):
    """A fault injected by the harness; ``fault_id`` names the schedule entry."""

    def __init__(self, fault_id: str, message: str) -> None:
        self.fault_id = fault_id
        super().__init__(f"[{fault_id}] {message}")


class InvariantViolation(DmsimError):
    """The core broke one of its promises."""

    def __init__(self, message: str, *, seed: int, time: float, event_index: int) -> None:
        self.seed, self.time, self.event_index = seed, time, event_index
        super().__init__(f"{message} (seed={seed}, t={time:.6f}s, event #{event_index})")


class InternalError(DmsimError):
    """A bug in dmsim: please report it with the reproduction line."""
