"""Charts as PNG, drawn server-side with matplotlib in Noto Sans CJK SC.

The font is the system's (Debian's fonts-noto-cjk, found through fontconfig: kept up to date by
the distribution and the same face the desk's browser shows); a machine without it uses the
copy of the same font that the `noto-cjk[sans]` wheel ships, so `pip install` alone still draws
Chinese labels (see docs/decisions.md).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server

from matplotlib import font_manager
from matplotlib import pyplot as plt

from yuqing.reports.schemas import ChartSpec

COLORS = ["#1d5fbf", "#b4232a", "#7f8c8d", "#9a5b00", "#8e44ad", "#0e7490"]
FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC")  # the simplified-Chinese faces we want


class ChartFontMissing(RuntimeError):
    """No Chinese font: charts would show empty boxes instead of Chinese labels."""


def _system_font() -> Path | None:
    """fontconfig's file for Noto Sans CJK SC (or Source Han Sans SC), if it is installed."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    for family in FAMILIES:
        try:
            found = subprocess.run(
                [fc_match, "-f", "%{family}\n%{file}", f"{family}:lang=zh-cn"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        names, _, file = found.partition("\n")
        # fc-match always answers with something; only the family asked for will do.
        if family in names.split(",") and file and Path(file).is_file():
            return Path(file)
    return None


def _packaged_font() -> Path | None:
    """The Noto Sans CJK collection shipped by the `noto-cjk[sans]` wheel, if installed."""
    try:
        import noto_cjk

        path = Path(str(noto_cjk.otc_path("sans")))
    except (ImportError, RuntimeError):  # noto_cjk.FontNotInstalled is a RuntimeError
        return None
    return path if path.is_file() else None


def font_file() -> Path:
    """The font file charts are drawn with; raises ChartFontMissing with what to install."""
    path = _system_font() or _packaged_font()
    if path is None:
        raise ChartFontMissing(
            "没有找到中文字体，图表中的中文会显示为方框："
            "请安装系统字体 fonts-noto-cjk（apt-get install fonts-noto-cjk）或 pip 包 noto-cjk[sans]"
        )
    return path


@lru_cache(maxsize=1)
def font_name() -> str:
    """Register the CJK font with matplotlib once; the family name of its simplified face."""
    path = font_file()
    before = len(font_manager.fontManager.ttflist)
    font_manager.fontManager.addfont(str(path))  # a collection adds each of its faces
    names = [entry.name for entry in font_manager.fontManager.ttflist[before:]]
    if not names:
        return font_manager.FontProperties(fname=str(path)).get_name()
    return next((name for name in names if name in FAMILIES), names[0])


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
            # A zero share is left out: its slice has no width and its "0%" label would sit
            # on top of the next slice's label.
            colors = spec.colors or COLORS
            kept = [i for i, v in enumerate(spec.values) if v > 0]
            ax.pie(
                [spec.values[i] for i in kept],
                labels=[spec.labels[i] for i in kept],
                colors=[colors[i % len(colors)] for i in kept],
                autopct="%1.0f%%",
            )
            ax.axis("equal")
        elif spec.kind == "bar":
            ax.barh(spec.labels[::-1], spec.values[::-1], color=COLORS[0])
        else:
            ax.plot(spec.labels, spec.values, marker="o", color=COLORS[0])
            ax.tick_params(axis="x", labelrotation=45)
        ax.set_title(spec.title)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()
    finally:
        plt.close(fig)
