"""The overview's 12-month trend, drawn with the shipped CJK font."""

from __future__ import annotations

from matplotlib.ticker import MaxNLocator

from bot.assess.stats import Assessment, period_name
from bot.core.charts import figure, png_of
from bot.core.i18n import t


def trend_png(months: list[Assessment], lang: str, title: str) -> bytes:
    """Reports received (bars) and three rates (lines, right axis) month by month."""
    fig = figure(7.2, 3.6)
    ax = fig.subplots()
    names = [period_name(a.period, lang).removeprefix(a.period.label[:4] + "年")
             if lang == "zh" else a.period.label[2:] for a in months]
    ax.bar(names, [a.received for a in months], color="#f0c9c4",
           label=t(lang, "stats.label.received"))
    ax.set_ylabel(t(lang, "stats.label.received"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # reports come whole
    ax.set_ylim(0, max(max(a.received for a in months) * 1.15, 1))  # never below zero
    ax.tick_params(axis="x", labelsize=8)
    rates = ax.twinx()
    for key, colour in (("response_rate", "#c0392b"), ("resolution_rate", "#2471a3"),
                        ("satisfaction_rate", "#229954")):
        values = [(getattr(a, key) * 100) if getattr(a, key) is not None else float("nan")
                  for a in months]
        rates.plot(names, values, marker="o", markersize=3, color=colour,
                   label=t(lang, f"stats.label.{key}"))
    rates.set_ylim(0, 105)
    rates.yaxis.set_major_formatter(lambda x, _pos: f"{x:.0f}%")
    handles = ax.get_legend_handles_labels()[0] + rates.get_legend_handles_labels()[0]
    rates.legend(handles=handles, loc="lower left", ncol=4, fontsize=8, framealpha=0.8)
    ax.set_title(title, fontsize=11)
    return png_of(fig, margins=(0.1, 0.92, 0.9, 0.12))
