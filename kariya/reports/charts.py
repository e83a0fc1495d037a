"""The dashboard's charts, drawn on the server: the same picture as SVG for the pages (no
JavaScript, no CDN; readable and printable on a city PC) and as a reportlab drawing for the
reports' PDFs. A chart is laid out once as a few shapes (rectangles, lines, text) in a 640 x 260
box; `svg` and `drawing` only write those shapes out.

The charts: the budget burn against the plan over the campaign, acquisitions per hour of a
round's opening, uses per day, the rollover per round, and use by area and by age band.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from xml.sax.saxutils import escape, quoteattr

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 34, 46
PLAN, ISSUED, USED, OTHER = "#9aa1a9", "#3a5a80", "#04893a", "#e0a030"
TEXT, GRID, AXIS = "#1a1a1a", "#d9dde3", "#555555"
FONT = '"Hiragino Sans", "Noto Sans CJK JP", "Yu Gothic", Meiryo, "IPAGothic", sans-serif'


@dataclasses.dataclass(frozen=True)
class Series:
    name: str
    values: list[int]
    color: str
    dashed: bool = False


@dataclasses.dataclass(frozen=True)
class Chart:
    key: str  # the element id on the page
    title: str
    kind: str  # "line", "bar" (stacked when several series), "hbar"
    labels: list[str]
    series: list[Series]
    unit: str  # "円" or "件"
    note: str = ""


# --- the shapes ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    tip: str = ""


@dataclasses.dataclass(frozen=True)
class Line:
    points: tuple[tuple[float, float], ...]
    stroke: str
    width: float = 1.0
    dashed: bool = False


@dataclasses.dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    size: float = 11
    anchor: str = "start"  # start, middle, end
    fill: str = TEXT


def _nice_top(value: int) -> int:
    """The axis' top: four equal whole steps of 1, 1.5, 2, 2.5, 3 or 5 times a power of ten."""
    raw = max(value, 1) / 4
    magnitude = 10 ** int(math.floor(math.log10(raw))) if raw >= 1 else 1
    for step in (1, 1.5, 2, 2.5, 3, 5, 10):
        size = step * magnitude
        if size >= raw and size == int(size):
            return int(size) * 4
    return 40 * magnitude


def _amount(value: int, unit: str) -> str:
    return f"{value:,}{unit}"


def _tick(value: int, unit: str, top: int) -> str:
    """An axis label: yen in 万円 once the axis reaches 100,000 yen."""
    if unit == "円" and top >= 100_000:
        return f"{value / 10_000:,.4g}万円" if value else "0円"
    return _amount(value, unit)


def _legend(chart: Chart) -> list:
    shapes: list = [Text(LEFT, 18, chart.title, 14)]
    x = WIDTH - RIGHT
    for s in reversed(chart.series if len(chart.series) > 1 else []):
        width = 14 + 12 * len(s.name)
        x -= width + 10
        shapes.append(Line(((x, 14), (x + 10, 14)), s.color, 4, s.dashed))
        shapes.append(Text(x + 14, 18, s.name, 11))
    return shapes


def layout(chart: Chart) -> list:
    """The chart as shapes in SVG coordinates (y grows downwards)."""
    shapes = _legend(chart)
    if chart.kind == "hbar":
        return shapes + _hbars(chart)
    n = len(chart.labels)
    if chart.kind == "bar":  # stacked
        totals = [sum(s.values[i] for s in chart.series) for i in range(n)]
    else:  # lines may stop early (today)
        totals = [v for s in chart.series for v in s.values]
    top = _nice_top(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    for k in range(5):
        y = base - plot_h * k / 4
        shapes.append(Line(((LEFT, y), (WIDTH - RIGHT, y)), GRID))
        shapes.append(Text(LEFT - 6, y + 4, _tick(top * k // 4, chart.unit, top), 10, "end", AXIS))
    step = plot_w / max(n, 1)
    every = max(1, math.ceil(n / 14))
    for i, name in enumerate(chart.labels):
        if i % every == 0:
            shapes.append(Text(LEFT + step * (i + 0.5), base + 16, name, 10, "middle", AXIS))
    if chart.kind == "bar":
        for i in range(n):
            y = base
            for s in chart.series:
                value = s.values[i]
                h = plot_h * value / top
                if value:
                    tip = f"{chart.labels[i]} {s.name}: {_amount(value, chart.unit)}"
                    shapes.append(
                        Rect(LEFT + step * (i + 0.15), y - h, step * 0.7, h, s.color, tip)
                    )
                y -= h
    else:
        for s in chart.series:
            points = tuple(
                (LEFT + step * (i + 0.5), base - plot_h * v / top) for i, v in enumerate(s.values)
            )
            if len(points) == 1:
                points = points + points
            if points:
                shapes.append(Line(points, s.color, 2.5, s.dashed))
    shapes.append(Line(((LEFT, TOP), (LEFT, base), (WIDTH - RIGHT, base)), AXIS))
    if not any(totals):
        shapes.append(
            Text(LEFT + plot_w / 2, TOP + plot_h / 2, "まだデータがありません", 13, "middle", AXIS)
        )
    if chart.note:
        shapes.append(Text(LEFT, HEIGHT - 8, chart.note, 10, "start", AXIS))
    return shapes


def _hbars(chart: Chart) -> list:
    values = chart.series[0].values
    top = _nice_top(max(values, default=0))
    shapes: list = []
    left, plot_w = 120, WIDTH - 120 - RIGHT - 90
    row = (HEIGHT - TOP - 20) / max(len(values), 1)
    for i, (name, value) in enumerate(zip(chart.labels, values, strict=True)):
        y = TOP + row * i
        w = plot_w * value / top
        shapes.append(Text(left - 8, y + row * 0.65, name, 11, "end"))
        shapes.append(Rect(left, y + row * 0.15, max(w, 0.5), row * 0.7, chart.series[0].color))
        shapes.append(Text(left + w + 6, y + row * 0.65, _amount(value, chart.unit), 10))
    shapes.append(Line(((left, TOP), (left, TOP + row * len(values))), AXIS))
    return shapes


# --- writing the shapes out -----------------------------------------------------------------------


def svg(chart: Chart) -> str:
    """The chart as an inline SVG element with a title (read out by screen readers)."""
    out = [
        f'<svg id={quoteattr("chart-" + chart.key)} class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label={quoteattr(chart.title)} xmlns="http://www.w3.org/2000/svg" '
        f"font-family={quoteattr(FONT)}>",
        f"<title>{escape(chart.title)}</title>",
    ]
    for shape in layout(chart):
        if isinstance(shape, Rect):
            tip = f"<title>{escape(shape.tip)}</title>" if shape.tip else ""
            out.append(
                f'<rect x="{shape.x:.1f}" y="{shape.y:.1f}" width="{shape.w:.1f}" '
                f'height="{shape.h:.1f}" fill="{shape.fill}">{tip}</rect>'
            )
        elif isinstance(shape, Line):
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in shape.points)
            dash = ' stroke-dasharray="6 4"' if shape.dashed else ""
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{shape.stroke}" '
                f'stroke-width="{shape.width}"{dash}/>'
            )
        else:
            out.append(
                f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" font-size="{shape.size}" '
                f'text-anchor="{shape.anchor}" fill="{shape.fill}">{escape(shape.text)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def drawing(chart: Chart, width: float, font: str):
    """The chart as a reportlab Drawing `width` points wide, in the PDF's Japanese font."""
    from reportlab.graphics.shapes import Drawing, PolyLine, String
    from reportlab.graphics.shapes import Rect as RLRect
    from reportlab.lib import colors

    scale = width / WIDTH
    d = Drawing(width, HEIGHT * scale)
    flip = lambda y: (HEIGHT - y) * scale  # noqa: E731
    for shape in layout(chart):
        if isinstance(shape, Rect):
            d.add(
                RLRect(
                    shape.x * scale,
                    flip(shape.y + shape.h),
                    shape.w * scale,
                    shape.h * scale,
                    fillColor=colors.HexColor(shape.fill),
                    strokeColor=None,
                )
            )
        elif isinstance(shape, Line):
            points = [c for x, y in shape.points for c in (x * scale, flip(y))]
            d.add(
                PolyLine(
                    points,
                    strokeColor=colors.HexColor(shape.stroke),
                    strokeWidth=shape.width * scale,
                    strokeDashArray=[4, 3] if shape.dashed else None,
                )
            )
        else:
            anchor = {"start": "start", "middle": "middle", "end": "end"}[shape.anchor]
            d.add(
                String(
                    shape.x * scale,
                    flip(shape.y),
                    shape.text,
                    fontName=font,
                    fontSize=shape.size * scale,
                    fillColor=colors.HexColor(shape.fill),
                    textAnchor=anchor,
                )
            )
    return d


# --- the charts of the figures ----------------------------------------------------------------------


def _day(iso: str) -> str:
    d = dt.date.fromisoformat(iso)
    return f"{d.month}/{d.day}"


def _cumulative(values: list[int], through: int) -> list[int]:
    total, out = 0, []
    for v in values[:through]:
        total += v
        out.append(total)
    return out


def burn(figures: dict) -> Chart:
    s = figures["series"]
    through = s.get("through", len(s["days"]))
    plan = _cumulative(s["plan"], len(s["days"]))
    issued = _cumulative(s["issued"], through)
    used = _cumulative(s["used"], through)
    # The actual lines stop today; the plan runs to the campaign's end.
    return Chart(
        "burn",
        "予算の執行状況(累計、計画との比較)",
        "line",
        [_day(d) for d in s["days"]],
        [
            Series("計画", plan, PLAN, dashed=True),
            Series("配布額", issued, ISSUED),
            Series("利用額", used, USED),
        ],
        "円",
        f"総額 {figures['funds']['total']:,}円。計画は各回の予定額を日ごとに按分した累計です。",
    )


def opening(figures: dict, round_number: int | None = None) -> Chart | None:
    hours = figures["series"].get("opening", {})
    if not hours:
        return None
    key = str(round_number) if round_number is not None else max(hours, key=int)
    values = hours.get(key)
    if values is None:
        return None
    return Chart(
        "opening",
        f"第{key}回 配布開始からの時間ごとの取得件数",
        "bar",
        [f"{h}時台" for h in range(len(values))],
        [Series("取得件数", values, ISSUED)],
        "件",
        "配布開始の時刻から24時間(1時間ごと)。",
    )


def uses_per_day(figures: dict) -> Chart:
    s = figures["series"]
    return Chart(
        "uses",
        "日ごとの利用件数",
        "bar",
        [_day(d) for d in s["days"]],
        [Series("利用件数", s["uses"], USED)],
        "件",
        "取り消された利用は含みません。",
    )


def rollover(figures: dict) -> Chart:
    rows = figures["rounds"]
    return Chart(
        "rollover",
        "回ごとの繰越額(未使用の割引券と未配布の枠)",
        "bar",
        [f"第{r['round']}回" for r in rows],
        [
            Series("未使用", [r["rollover_unused"] for r in rows], OTHER),
            Series("未配布", [r["rollover_unissued"] for r in rows], PLAN),
        ],
        "円",
        "終了した回の繰越額。最終回の繰越は市へ返還します。",
    )


def by_group(figures: dict, key: str) -> Chart:
    rows = figures[key]
    title = "地区別の利用額" if key == "by_area" else "年代別の利用額"
    return Chart(
        key.removeprefix("by_"),
        title,
        "hbar",
        [r["label"] for r in rows],
        [Series("利用額", [r["used_amount"] for r in rows], USED)],
        "円",
    )


def all_of(figures: dict, round_number: int | None = None) -> list[Chart]:
    found = [
        burn(figures),
        opening(figures, round_number),
        uses_per_day(figures),
        rollover(figures),
    ]
    found += [by_group(figures, "by_area"), by_group(figures, "by_age_band")]
    return [c for c in found if c is not None]
