"""``compare --plot``: the similarity series as a PNG (matplotlib, imported only here)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

TEXT_SHARE_PREFIX = "text share: "


def plot_comparison(path: Path, series: dict[str, dict[date, float | None]], *, title: str) -> None:
    """Stacked time series: same-day cosine across the spaces, day-over-day cosine within each, and (when the
    series hold "text share: " ones) the text branch's share per date."""
    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # font cache notices would land on stdout
    matplotlib.use("Agg")
    from matplotlib import pyplot

    panels = [("same day: ", "Same day, across the spaces", "cosine similarity"),
              ("day over day: ", "Day over day (previous available day), within each space", "cosine similarity")]
    if any(label.startswith(TEXT_SHARE_PREFIX) for label in series):
        panels.append((TEXT_SHARE_PREFIX, "The text branch's share |w_t*z_text| / (|w_n*z_num| + |w_t*z_text|)",
                       "text share"))
    figure, all_axes = pyplot.subplots(len(panels), 1, sharex=True, figsize=(11, 3.5 * len(panels)),
                                       constrained_layout=True)
    try:
        for axes, (prefix, heading, ylabel) in zip(all_axes, panels, strict=True):
            for label, values in series.items():
                if not label.startswith(prefix):
                    continue
                points = sorted((day, value) for day, value in values.items() if value is not None)
                axes.plot([day for day, _ in points], [value for _, value in points], marker="o",
                          label=label.removeprefix(prefix))
            axes.set_title(heading)
            axes.set_ylabel(ylabel)
            axes.grid(True, alpha=0.3)
            if axes.get_legend_handles_labels()[0]:
                axes.legend(fontsize="small", loc="best")
            else:
                axes.text(0.5, 0.5, "no dates with both vectors", ha="center", va="center",
                          transform=axes.transAxes)
        all_axes[-1].set_xlabel("as_of_date (UTC day)")
        figure.autofmt_xdate()
        figure.suptitle(title)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    finally:
        pyplot.close(figure)
