"""The printed documents' Markdown: values are printed as written (never read as markup), and the
small renderer turns headings, lists, tables and bold paragraphs into reportlab flowables."""

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import ListFlowable, PageBreak, Paragraph, Table

from kariya.materials import flowables, texts


def styles() -> flowables.Styles:
    names = ("title", "subtitle", "section", "subsection", "body", "strong", "cell", "cellhead")
    made = {name: ParagraphStyle(name) for name in names}
    return flowables.Styles(**made, bullet=ParagraphStyle("bullet"))


DOC = """# 刈谷市 *電子* 割引券

# 取扱店マニュアル

実施期間 1月15日

> 表紙の注記です。

---

## 1. 概要

本文の1行目と
2行目は空白なしでつながります。

- **太字**を含む項目
- 項目2

1. 手順1
2. 手順2

| 回 | 期間 |
|--|--------|
| 第1回 | 1月15日〜1月21日 |

**全体が太字の段落\\
2行目**
"""


def test_markdown_becomes_flowables():
    doc = flowables.render(DOC, styles(), 400)
    assert doc.title == "刈谷市 電子 割引券 取扱店マニュアル"
    kinds = [type(f).__name__ for f in doc.story]
    assert kinds.count("PageBreak") == 1 and isinstance(
        doc.story[kinds.index("PageBreak")], PageBreak
    )
    paragraphs = [f for f in doc.story if isinstance(f, Paragraph)]
    by_style = {}
    for p in paragraphs:
        by_style.setdefault(p.style.name, []).append(p.text)
    assert by_style["title"] == ["刈谷市 <i>電子</i> 割引券", "取扱店マニュアル"]
    assert by_style["subtitle"] == ["実施期間 1月15日"]
    assert by_style["section"] == ["1. 概要"]
    assert "本文の1行目と2行目は空白なしでつながります。" in by_style["body"]
    lists = [f for f in doc.story if isinstance(f, ListFlowable)]
    assert by_style["strong"] == ["全体が太字の段落<br/>2行目"]
    assert "<b>太字</b>を含む項目" in [item._flowables[0].text for item in lists[0]._flowables]
    assert [lst._bulletType for lst in lists] == ["bullet", "1"]
    (table,) = [f for f in doc.story if isinstance(f, Table)]
    assert [round(w) for w in table._colWidths] == [80, 320]  # 2 : 8 dashes


def test_values_are_printed_as_written(tmp_path, monkeypatch):
    monkeypatch.setattr(texts, "PRINT_TEMPLATES", tmp_path)
    texts._environment.cache_clear()
    (tmp_path / "t.md.jinja2").write_text("| a |\n|---|\n| {{ value }} |\n\n**{{ value }}**\n")
    (tmp_path / "t.toml.jinja2").write_text('text = "{{ value }}"\n')
    value = '*刈谷* | <b>"市"</b> \\ 1. #2'
    try:
        markdown = texts.markdown("t.md.jinja2", value=value)
        assert texts.toml("t.toml.jinja2", value=value) == {"text": value}
    finally:
        texts._environment.cache_clear()
    doc = flowables.render(markdown, styles(), 100)
    (table, strong) = doc.story
    cell = table._cellvalues[1][0]
    expected = '*刈谷* | &lt;b&gt;"市"&lt;/b&gt; \\ 1. #2'
    assert cell.text == expected and strong.text == expected
