"""The dashboard's charts are drawn on the server (C-1): well-formed SVG with a title for each
chart and each bar, no script and nothing from another host; the same picture as a reportlab
drawing for the PDFs."""

from xml.etree import ElementTree

from reportlab.graphics.shapes import Drawing

from kariya.reports import charts

FIGURES = {
    "funds": {"total": 20_000},
    "series": {
        "days": ["2024-01-15", "2024-01-16", "2024-01-17"],
        "through": 2,
        "plan": [5_000, 5_000, 10_000],
        "issued": [4_000, 0, 0],
        "used": [1_500, 500, 0],
        "uses": [2, 1, 0],
        "opening": {"1": [0] * 10 + [2] + [0] * 13},
    },
    "rounds": [{"round": 1, "rollover_unused": 2_000, "rollover_unissued": 6_000}],
    "by_area": [{"label": "刈谷地区", "used_amount": 3_000}, {"label": "未回答", "used_amount": 0}],
    "by_age_band": [{"label": "70代", "used_amount": 2_000}],
}
SVG = "{http://www.w3.org/2000/svg}"


def test_every_chart_is_well_formed_svg_with_titles():
    drawn = charts.all_of(FIGURES)
    assert [c.key for c in drawn] == ["burn", "opening", "uses", "rollover", "area", "age_band"]
    for chart in drawn:
        text = charts.svg(chart)
        root = ElementTree.fromstring(text)
        assert root.get("role") == "img" and root.find(SVG + "title").text == chart.title
        assert "<script" not in text and "http://" not in text.replace(
            "http://www.w3.org/2000/svg", ""
        )


def test_bars_carry_their_values_and_lines_stop_today():
    opening = ElementTree.fromstring(charts.svg(charts.opening(FIGURES)))
    tips = [t.text for t in opening.iter(SVG + "title")][1:]
    assert tips == ["10時台 取得件数: 2件"]
    burn = ElementTree.fromstring(charts.svg(charts.burn(FIGURES)))
    lines = [
        p.get("points").split()
        for p in burn.iter(SVG + "polyline")
        if p.get("stroke-width") == "2.5"
    ]
    assert [len(points) for points in lines] == [
        3,
        2,
        2,
    ]  # the plan to the end, the actual to today


def test_the_pdf_gets_the_same_chart_as_a_drawing():
    drawing = charts.drawing(charts.rollover(FIGURES), 480, "Helvetica")
    assert isinstance(drawing, Drawing) and drawing.width == 480
    texts = [getattr(s, "text", "") for s in drawing.contents]
    assert charts.rollover(FIGURES).title in texts and "8,000円" in texts
