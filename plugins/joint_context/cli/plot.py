"""``compare --plot``: the similarity series as a PNG (matplotlib, imported only here)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path


def plot_comparison(path: Path, series: dict[str, dict[date, float | None]], *, title: str) -> None:
    """Two stacked time series: same-day cosine across the spaces, and day-over-day cosine within each."""
    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # font cache notices would land on stdout
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (cross_axes, daily_axes) = pyplot.subplots(2, 1, sharex=True, figsize=(11, 7), constrained_layout=True)
    try:
        for axes, prefix, heading in (
            (cross_axes, "same day: ", "Same day, across the spaces"),
            (daily_axes, "day over day: ", "Day over day (previous available day), within each space"),
        ):
            for label, values in series.items():
                if not label.startswith(prefix):
                    continue
                points = sorted((day, value) for day, value in values.items() if value is not None)
                axes.plot([day for day, _ in points], [value for _, value in points], marker="o",
                          label=label.removeprefix(prefix))
            axes.set_title(heading)
            axes.set_ylabel("cosine similarity")
            axes.grid(True, alpha=0.3)
            if axes.get_legend_handles_labels()[0]:
                axes.legend(fontsize="small", loc="best")
            else:
                axes.text(0.5, 0.5, "no dates with both vectors", ha="center", va="center",
                          transform=axes.transAxes)
        daily_axes.set_xlabel("as_of_date (UTC day)")
        figure.autofmt_xdate()
        figure.suptitle(title)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    finally:
        pyplot.close(figure)
