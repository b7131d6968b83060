"""The timeline plot: faults shaded by kind over backlog, disk usage and cumulative uploads.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global figure state), so
two plots can be made side by side and no display is needed. matplotlib is imported on first
use: it is slow to import and most runs draw nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dmsim.faults import FaultSchedule

from ._report import Report
from ._result import Sample

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_timeline", "write_timeline_png"]

_GROUP_COLOURS = {
    "network": "#4c72b0",
    "rpc": "#dd8452",
    "disk": "#937860",
    "process": "#c44e52",
    "reconfigure": "#8172b3",
    "clock": "#55a868",
    "device": "#da8bc3",
    "operator": "#8c8c8c",
}
_UNITS = ((2 * 86400, 86400.0, "days"), (2 * 3600, 3600.0, "hours"), (120, 60.0, "minutes"))


def _time_unit(seconds: float) -> tuple[float, str]:
    for threshold, size, name in _UNITS:
        if seconds >= threshold:
            return size, name
    return 1.0, "seconds"


def plot_timeline(
    samples: Sequence[Sample],
    faults: FaultSchedule,
    *,
    sim_seconds: float,
    run_end: float,
    title: str,
) -> Figure:
    """A three-panel figure: backlog files, disk used, cumulative uploaded files.

    ``run_end`` is the scenario's duration: there the world heals (a fault without an end
    stops) and the final drain runs to ``sim_seconds``; a dashed line marks it.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    scale, unit = _time_unit(sim_seconds)
    drained = sim_seconds - run_end > 0.005 * sim_seconds  # a drain wide enough to see
    figure = Figure(figsize=(11, 7), layout="constrained")
    axes = figure.subplots(3, 1, sharex=True)
    xs = [s.t / scale for s in samples]
    panels = (
        ([s.backlog_files for s in samples], "backlog (files)"),
        ([100 * s.disk_used_fraction for s in samples], "disk used (%)"),
        ([s.uploaded_files_total for s in samples], "uploaded (files)"),
    )
    for ax, (ys, label) in zip(axes, panels, strict=True):
        _shade(ax, faults, scale, run_end)
        if drained:
            ax.axvline(run_end / scale, color="grey", linestyle="--", linewidth=1.0)
        ax.plot(xs, ys, color="black", linewidth=1.0, drawstyle="steps-post")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(bottom=0)
    axes[1].set_ylim(0, 100)
    axes[2].set_ylim(bottom=0)
    drain = f"; final drain after {run_end / scale:.3g} {unit} (dashed)"
    if not drained:
        drain = ""
    axes[-1].set_xlabel(f"simulated time ({unit}){drain}")
    axes[-1].set_xlim(0, sim_seconds / scale)
    groups = sorted({step.group for step in faults})
    if groups:
        handles = [Patch(color=_GROUP_COLOURS[g], alpha=0.35, label=g) for g in groups]
        axes[0].legend(handles=handles, loc="upper right", fontsize="small", title="faults")
    figure.suptitle(title)
    return figure


def _shade(ax: Axes, faults: FaultSchedule, scale: float, run_end: float) -> None:
    for step in faults:
        colour = _GROUP_COLOURS[step.group]
        end = min(step.end, run_end)  # the world heals at the end of the run
        if end > step.at:
            ax.axvspan(step.at / scale, end / scale, color=colour, alpha=0.25, linewidth=0)
        else:
            ax.axvline(step.at / scale, color=colour, alpha=0.8, linewidth=1.2)


def write_timeline_png(report: Report, path: Path) -> None:
    """Write the report's timeline as a PNG file."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = plot_timeline(
        report.samples,
        report.faults,
        sim_seconds=report.sim_seconds,
        run_end=float(report.options.get("duration_s", report.sim_seconds)),
        title=f"{report.scenario} (seed {report.seed}): {report.verdict_text}",
    )
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", dpi=100)
