"""The yearly report drawn as a PNG the app can show or share: matplotlib on its
headless Agg canvas (no pyplot, no global state: safe in threaded web workers), the
Chinese text in WenQuanYi Micro Hei (Debian's `fonts-wqy-microhei`; without it the
default font draws the figures and boxes for the Chinese characters)."""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

SHANGHAI = ZoneInfo("Asia/Shanghai")
FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
GREEN = "#2e7d32"
LIGHT = "#a5d6a7"
GREY = "#555555"


def _font(size: float, bold: bool = False) -> FontProperties:
    weight = "bold" if bold else "normal"
    if FONT_PATH.is_file():
        return FontProperties(fname=str(FONT_PATH), size=size, weight=weight)
    return FontProperties(size=size, weight=weight)


def draw(report: dict) -> bytes:
    """The report as PNG bytes (900 x 1200 pixels)."""
    fig = Figure(figsize=(9, 12), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    year = report["year"]
    reductions = report["reductions"]
    points = report["points"]
    fig.text(0.06, 0.955, f"{year} 年度碳减排报告", fontproperties=_font(26, True), color=GREEN)
    fig.text(0.06, 0.93, f"My {year} carbon report · SIP carbon points", fontproperties=_font(13))
    kg = reductions["credited_g"] / 1000
    fig.text(0.06, 0.875, f"{kg:,.3f} kg CO₂e", fontproperties=_font(30, True), color=GREEN)
    fig.text(0.06, 0.85, "全年减排量 / reductions credited", fontproperties=_font(12), color=GREY)
    rank = report["rank"]
    fig.text(0.58, 0.875, rank["text_zh"], fontproperties=_font(18, True), color=GREEN)
    fig.text(0.58, 0.85, rank["text_en"], fontproperties=_font(12), color=GREY)

    months = fig.add_axes((0.08, 0.56, 0.86, 0.24))
    labels = [m["month"][-2:] for m in reductions["by_month"]]
    values = [m["credited_g"] / 1000 for m in reductions["by_month"]]
    months.bar(labels, values, color=GREEN)
    months.set_title("每月减排量 / by month (kg)", fontproperties=_font(13), loc="left")
    months.spines[["top", "right"]].set_visible(False)
    for label in months.get_xticklabels() + months.get_yticklabels():
        label.set_fontproperties(_font(10))

    modes = report["trips"]["by_mode"]
    bars = fig.add_axes((0.08, 0.30, 0.40, 0.19))
    names = [f"{m['name_zh']}\n{m['name_en']}" for m in modes] or ["—"]
    km = [m["km"] for m in modes] or [0]
    bars.barh(names, km, color=LIGHT, edgecolor=GREEN)
    bars.set_title(
        f"出行 {report['trips']['count']} 次 / trips, km by mode",
        fontproperties=_font(13),
        loc="left",
    )
    bars.spines[["top", "right"]].set_visible(False)
    for label in bars.get_xticklabels() + bars.get_yticklabels():
        label.set_fontproperties(_font(10))

    lines = [
        ("积分 / points", ""),
        ("获得 earned", f"{points['earned']:,}"),
        ("使用 spent", f"{points['spent']:,}"),
        ("到期 expired", f"{points['expired']:,}"),
        ("年末余额 balance", f"{points['balance_end']:,}"),
    ]
    y = 0.47
    for left, right in lines:
        bold = not right
        fig.text(0.58, y, left, fontproperties=_font(13 if bold else 12, bold))
        fig.text(0.92, y, right, fontproperties=_font(12, True), ha="right", color=GREEN)
        y -= 0.035

    y = 0.22
    fig.text(0.06, y, "相当于 / equivalent to", fontproperties=_font(13, True))
    for c in report["comparisons"] or []:
        y -= 0.035
        fig.text(0.06, y, c["text_zh"], fontproperties=_font(11))
        y -= 0.025
        fig.text(0.06, y, c["text_en"], fontproperties=_font(10), color=GREY)
    if not report["comparisons"]:
        fig.text(0.06, y - 0.035, "—", fontproperties=_font(11))
    fig.text(
        0.06,
        0.03,
        "数据来自平台账本 · figures from the platform's ledger · "
        f"as of {report['as_of'].astimezone(SHANGHAI).date().isoformat()}",
        fontproperties=_font(9),
        color=GREY,
    )
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    return out.getvalue()
