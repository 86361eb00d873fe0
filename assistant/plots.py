"""PNG charts of training curves (matplotlib, imported only here, with the
file-only Agg backend so no display is needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def plot_curves(history: Sequence[Mapping[str, Any]], target: Path, title: str,
                panels: Mapping[str, Sequence[str]]) -> bool:
    """One panel per entry of ``panels`` (y-axis label -> history keys), each
    key a line against ``step``. Keys missing from the history are left out,
    and so are empty panels. Returns False when matplotlib is not installed
    or nothing was logged."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series = {label: [(key, [(h["step"], h[key]) for h in history if key in h and "step" in h]) for key in keys]
              for label, keys in panels.items()}
    series = {label: [(k, pts) for k, pts in lines if pts] for label, lines in series.items()}
    series = {label: lines for label, lines in series.items() if lines}
    if not series:
        return False
    fig, axes = plt.subplots(1, len(series), figsize=(5.5 * len(series), 3.5), dpi=110, squeeze=False)
    for ax, (label, lines) in zip(axes[0], series.items()):
        for key, points in lines:
            ax.plot(*zip(*points), marker="o" if len(points) < 30 else None, markersize=3, label=key)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(target)
    plt.close(fig)
    return True
