"""The documents' text (C-4, D-1): what a body may hold, how it is rendered, the campaign's
numbers as placeholders, the diff by character for Japanese, and the answer manual's sections
and search."""

import pytest

from kariya.documents import diff, markdown, placeholders, reading


@pytest.mark.parametrize(
    "body",
    [
        "<div>x</div>",
        "文中の<span>タグ</span>",
        "<!-- コメント -->",
        "[a](javascript:alert(1))",
        "[a](JAVASCRIPT:alert(1))",
        "[a](java&#x09;script:alert(1))",
        "[a](%6Aavascript:alert(1))",
        "<vbscript:msgbox>",
        "[a](data:text/html,x)",
        "[a](file:///etc/passwd)",
        "[r]\n\n[r]: javascript:void(0)",
        "![a](https://example.jp/x.png)",
    ],
)
def test_raw_html_unsafe_links_and_images_are_refused(body):
    assert markdown.problems(body)


@pytest.mark.parametrize(
    "body",
    [
        "[市](https://www.city.kariya.lg.jp/)",
        "[メール](mailto:a@example.jp)",
        "[除外品目](/excluded) と [目次](#sec-2)",
        "1 < 2 で、a &lt;b&gt; は文字",
        "| a | b |\n|---|---|\n| 1 | 2 |",
    ],
)
def test_ordinary_markdown_is_accepted(body):
    assert markdown.problems(body) == []


def test_rendering_escapes_html_and_joins_japanese_lines():
    html = str(markdown.html("# 見出し\n\n一行目と\n二行目。\nEnglish\nwords\n\n<b>x</b>"))
    assert '<h1 id="sec-1">見出し</h1>' in html
    assert "一行目と二行目。English words" in html  # no space between Japanese lines
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html
    # Even an unchecked text cannot link to a script.
    assert "href" not in str(markdown.html("[a](javascript:alert(1))"))


def test_the_length_is_limited_with_a_clear_message():
    (message,) = markdown.problems("あ" * (markdown.MAX_CHARS + 1))
    assert "50,000文字以内" in message and "50,001文字" in message


def facts():
    return placeholders.Facts(rules=None, callcenter_phone="0566-00-0000", callcenter_hours="平日")


def test_placeholders_are_a_fixed_list_not_code():
    body = "{face}円 {{face}} {callcenter_phone} {no_such} {__class__} {face.__class__} {日本語}"
    assert placeholders.unknown(body) == ["no_such"]
    filled = placeholders.substitute(body, placeholders.values(facts()))
    assert filled.startswith("(未定)円 {face} 0566\\-00\\-0000 {no_such} {__class__}")
    assert "{face.__class__}" in filled and "{日本語}" in filled


def test_a_value_is_printed_as_written():
    odd = placeholders.Facts(rules=None, callcenter_phone="**<b>1</b>**", callcenter_hours="")
    html = str(
        markdown.html(placeholders.substitute("電話 {callcenter_phone}", placeholders.values(odd)))
    )
    assert "**&lt;b&gt;1&lt;/b&gt;**" in html


def test_the_diff_is_by_character_and_readable():
    old = "受付時間は午前9時から午後5時です。\n"
    new = "受付時間は午前10時から午後6時までです。\n"
    spans = [(s.kind, s.text) for s in diff.compare(old, new).spans]
    assert spans == [
        ("equal", "受付時間は午前"),
        ("delete", "9"),
        ("insert", "10"),
        ("equal", "時から午後"),
        ("delete", "5時"),  # one character between two changes: read as one change
        ("insert", "6時まで"),
        ("equal", "です。\n"),
    ]


def test_a_change_broken_by_a_character_or_two_reads_as_one():
    result = diff.compare("市民の皆さまへ\n", "県民のみなさまへ\n")
    kinds = [s.kind for s in result.spans]
    assert kinds == ["delete", "insert", "equal"]  # not 市→県, 民の kept, 皆→みな: one change
    assert result.spans[0].text == "市民の皆" and result.spans[1].text == "県民のみな"


def test_long_unchanged_text_is_folded():
    lines = "".join(f"第{n}行\n" for n in range(30))
    result = diff.compare("はじめ\n" + lines, "はじまり\n" + lines)
    assert [s.kind for s in result.spans][-2:] == ["equal", "skip"]
    assert result.spans[-1].lines == 28 and (result.inserted, result.deleted) == (2, 1)


def test_sections_and_search():
    body = "# 手引き\n\n## 受け取り\n\n### スマホをなくした\n\nLINEを引き継ぎます。\n\n### おつり\n\n- 出ません\n- 現金不可\n"
    sections = markdown.sections(body)
    assert [(s.id, s.level, s.heading) for s in sections] == [
        ("sec-1", 1, "手引き"),
        ("sec-2", 2, "受け取り"),
        ("sec-3", 3, "スマホをなくした"),
        ("sec-4", 3, "おつり"),
    ]
    assert sections[3].text == "・出ません\n・現金不可"
    (hit,) = reading.search(sections, "ｌｉｎｅ 引き継")
    assert hit.section.heading == "スマホをなくした"
    assert str(hit.text_html) == "<mark>LINE</mark>を<mark>引き継</mark>ぎます。"
    assert reading.search(sections, "   ") == []
    assert reading.search(sections, "<script>") == []
