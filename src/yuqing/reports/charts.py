"""Charts as PNG, drawn server-side with matplotlib and the packaged Noto Sans CJK font,
so Chinese labels render on a machine without Chinese fonts installed."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server

import manimgx_fonts_cjk
from matplotlib import font_manager
from matplotlib import pyplot as plt

from yuqing.reports.schemas import ChartSpec

COLORS = ["#c0392b", "#2e86c1", "#7f8c8d", "#27ae60", "#8e44ad", "#d35400"]


@lru_cache(maxsize=1)
def font_name() -> str:
    """Register the packaged CJK font with matplotlib once; its family name."""
    folder = Path(manimgx_fonts_cjk.__file__).parent
    path = next(p for p in folder.iterdir() if p.suffix in {".ttc", ".otf", ".ttf"})
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def render(spec: ChartSpec) -> bytes:
    """The chart as PNG bytes; a chart with no data says so instead of drawing nothing."""
    plt.rcParams["font.family"] = [font_name(), "sans-serif"]
    plt.rcParams["axes.unicode_minus"] = False
    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=110)
    try:
        if not any(spec.values):
            ax.text(0.5, 0.5, "本时段无数据", ha="center", va="center", fontsize=14)
            ax.set_axis_off()
        elif spec.kind == "pie":
            ax.pie(spec.values, labels=spec.labels, colors=COLORS, autopct="%1.0f%%")
            ax.axis("equal")
        elif spec.kind == "bar":
            ax.barh(spec.labels[::-1], spec.values[::-1], color=COLORS[1])
        else:
            ax.plot(spec.labels, spec.values, marker="o", color=COLORS[1])
            ax.tick_params(axis="x", labelrotation=45)
        ax.set_title(spec.title)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
