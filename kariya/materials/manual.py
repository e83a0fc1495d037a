"""The store manual (S-3): acquisition and use, payment to stores, what a store must and must
not do, and what coupons may not pay for (I-8, from kariya/data/excluded_items.toml)."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    KeepTogether,
    ListFlowable,
    ListItem,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from kariya import pdf_fonts
from kariya.campaign import excluded_items
from kariya.materials.drawing import DARK_GREEN
from kariya.materials.rules import Rules, bill_rule, day_text, yen
from kariya.pdf_fonts import GOTHIC, MINCHO


def _styles() -> dict[str, ParagraphStyle]:
    pdf_fonts.ensure()
    body = ParagraphStyle(
        "body", fontName=MINCHO, fontSize=10.5, leading=17, wordWrap="CJK", spaceAfter=4
    )
    return {
        "title": ParagraphStyle(
            "title", fontName=GOTHIC, fontSize=24, leading=34, alignment=1, wordWrap="CJK"
        ),
        "subtitle": ParagraphStyle(
            "subtitle", fontName=GOTHIC, fontSize=13, leading=20, alignment=1, wordWrap="CJK"
        ),
        "h1": ParagraphStyle(
            "h1",
            fontName=GOTHIC,
            fontSize=15,
            leading=22,
            textColor=DARK_GREEN,
            spaceBefore=10,
            spaceAfter=6,
            wordWrap="CJK",
        ),
        "h2": ParagraphStyle(
            "h2", fontName=GOTHIC, fontSize=11.5, leading=18, spaceBefore=6, wordWrap="CJK"
        ),
        "body": body,
        "strong": ParagraphStyle("strong", parent=body, fontName=GOTHIC),
        "cell": ParagraphStyle("cell", parent=body, fontSize=9.5, leading=14, spaceAfter=0),
        "cellhead": ParagraphStyle(
            "cellhead", parent=body, fontName=GOTHIC, fontSize=9.5, leading=14, spaceAfter=0
        ),
    }


def _bullets(items: list[str], style: ParagraphStyle, numbered: bool = False) -> ListFlowable:
    return ListFlowable(
        [ListItem(Paragraph(text, style), leftIndent=14) for text in items],
        bulletType="1" if numbered else "bullet",
        start="1" if numbered else "•",
        bulletFontName=GOTHIC,
        bulletFontSize=9.5,
        leftIndent=14,
    )


def _table(rows: list[list[str]], widths: list[float], st: dict) -> Table:
    data = [
        [Paragraph(cell, st["cellhead"] if i == 0 else st["cell"]) for cell in row]
        for i, row in enumerate(rows)
    ]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8f5e9")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def manual_pdf(r: Rules, issued: dt.datetime | None = None) -> bytes:
    """The store manual (S-3): acquisition and use, payment to stores, what a store must and
    must not do, and what coupons may not pay for (I-8). One text for every store, so that the
    city approves one document (C-4)."""
    st = _styles()
    body, strong = st["body"], st["strong"]
    story: list = [
        Spacer(1, 60 * mm),
        Paragraph(r.campaign_name, st["title"]),
        Spacer(1, 6 * mm),
        Paragraph("取扱店マニュアル", st["title"]),
        Spacer(1, 12 * mm),
        Paragraph(f"実施期間 {r.period}", st["subtitle"]),
        Spacer(1, 4 * mm),
    ]
    if issued is not None:
        story.append(
            Paragraph(f"{day_text(issued, ZoneInfo('Asia/Tokyo'), year=True)}作成", st["subtitle"])
        )
    story += [
        Spacer(1, 40 * mm),
        Paragraph(
            "このマニュアルは、電子割引券を取り扱う登録店の皆さまに、割引券の受け付け方、"
            "お店へのお支払い、守っていただくことをご説明するものです。"
            "お店のスタッフの皆さまで共有し、お会計の際にご活用ください。",
            body,
        ),
        PageBreak(),
        # 1. The programme.
        Paragraph("1. 事業の概要", st["h1"]),
        Paragraph(
            "刈谷市公式LINEアカウントの友だちになっている方に、市内の中小店舗で使える電子割引券を"
            "配布し、地域のお店を応援する事業です。紙の券やお店の専用端末はありません。"
            "お客様はお店に掲示されたQRコードをご自身のスマートフォンで読み取って割引券を使います。",
            body,
        ),
        _bullets(
            [
                f"実施期間: {r.period}(全{len(r.rounds)}回)",
                f"配布額: 各回1人{yen(r.pack)}分({yen(r.face)}券×{r.per_pack}枚)。"
                "受け取りは各回1人1回までです。",
                "各回の割引券は、その回の利用期間中だけ使えます。期間を過ぎた割引券は使えません。",
                "配布額が市の定める予算額に達した回は、その時点で配布を終了します。",
            ],
            body,
        ),
        Spacer(1, 3 * mm),
        _table(
            [["回", "利用期間(割引券を受け取り、使える期間)"]]
            + [[f"第{n}回", f"{first}〜{last}"] for n, first, last in r.rounds],
            [25 * mm, 135 * mm],
            st,
        ),
        # 2. How residents get coupons.
        Paragraph("2. お客様の割引券の受け取り方", st["h1"]),
        _bullets(
            [
                "刈谷市公式LINEアカウントのメニューから割引券のページを開きます。",
                "初めての方は、年代・お住まいの地区などを一度だけ登録します。",
                f"「割引券を受け取る」を押すと、{yen(r.face)}券が{r.per_pack}枚届きます。"
                "受け取りは各回1回までで、次の回になると、また受け取れます。",
            ],
            body,
            numbered=True,
        ),
        # 3. How coupons are used at the till.
        Paragraph("3. お会計での使い方", st["h1"]),
        _bullets(
            [
                "お客様が、お店に掲示したQRコードをスマートフォンのカメラで読み取ります。",
                "お客様が、使う枚数とお会計の金額を入力します。",
                "お客様が確認画面をスタッフに見せます。店名・割引額・お会計金額をご確認ください。",
                "お客様が「使う」を押すと、完了画面に確認番号が表示されます。"
                "完了画面を必ずご確認ください。",
                "お会計から割引額を差し引き、残りの金額をお支払いいただきます。",
            ],
            body,
            numbered=True,
        ),
        Spacer(1, 2 * mm),
        Paragraph("使えるときの条件", st["h2"]),
        _bullets(
            [
                f"1人のお客様が1つのお店で使えるのは、{r.per_round}{r.store_limit}枚までです。",
                f"{bill_rule(r)}のお会計で使えます。",
                "お会計の金額は、他の割引やクーポンを適用した後の金額です。"
                "他の割引・クーポンとの併用はできます。",
                "割引券で支払えない商品・サービス(6章)は、お会計の金額に含めません。",
            ],
            body,
        ),
        # 4. What the store must do.
        Paragraph("4. お店で必ず行っていただくこと", st["h1"]),
        _bullets(
            [
                "QRコードのポスター・ステッカーを、お客様が読み取りやすい場所(レジの近くなど)に"
                "掲示してください。",
                "お客様が割引券を使うときは、スマートフォンの完了画面を必ず目で確認してください。"
                "正しい画面では、<b>帯の模様が動き続け</b>、<b>時計が秒単位で進んでいます</b>。"
                "画面の写真(スクリーンショット)や録画では、帯が止まっていたり時計が"
                "現在時刻と合わなかったりします。そのような画面では割引しないでください。",
                "完了画面に表示された店名が自店であること、割引額、確認番号をご確認ください。"
                "確認番号はレシートの控えなどにメモしておくと、問い合わせの際に役立ちます。",
                f"お会計の金額が条件({bill_rule(r)})を満たしていることをご確認ください。",
                "不審な利用や、操作の誤りで割引券が使われてしまった場合は、"
                "すぐに事務局(コールセンター)へご連絡ください。",
            ],
            body,
        ),
        # 5. What the store must not do (I-7).
        Paragraph("5. お店でしてはいけないこと", st["h1"]),
        _bullets(
            [
                "割引券の現金への払い戻し・換金、割引券を使ったお会計でのおつりの支払いはできません。",
                "割引券を他の人に譲ったり、売ったり、買い取ったりすることはできません。",
                "6章の商品・サービスの支払いに割引券を使わせないでください。",
                "実際の売買がない利用(架空の利用)や、お客様に代わってスタッフが操作することは"
                "できません。",
                "自店のQRコードをコピーして店外に配布したり、他の店舗で使わせたりしないでください。",
            ],
            body,
        ),
        Paragraph(
            "これらに反する利用が分かった場合、その分はお支払いの対象外となり、"
            "登録の停止・取り消しとなることがあります。",
            strong,
        ),
    ]
    # 6. What coupons may not pay for (I-8), from the one shared list.
    story.append(
        KeepTogether(
            [
                Paragraph("6. 割引券で支払えない商品・サービス", st["h1"]),
                Paragraph(
                    "次の商品・サービスには割引券を使えません。対象の商品と一緒にお会計する場合は、"
                    "これらを除いた金額で条件を判断してください。",
                    body,
                ),
            ]
        )
    )
    story.append(
        _table(
            [["対象外のもの", "例"]]
            + [[item["label"], item["detail"]] for item in excluded_items.ITEMS],
            [60 * mm, 100 * mm],
            st,
        )
    )
    # 7. Payment to stores (P-6, F-1..F-4).
    story += [
        Paragraph("7. お店へのお支払い(精算)", st["h1"]),
        Paragraph(
            "お店からの請求は不要です。QRコードで受け付けた利用データをもとに事務局が集計し、"
            "ご登録の金融機関口座へ振り込みます。",
            body,
        ),
        _bullets(
            [
                f"お支払い額は、お店で使われた割引券の額面の合計(1枚{yen(r.face)})です。",
                "利用を次の期間ごとに締めて、締めた後にまとめてお振り込みします"
                f"(月{r.settlements_per_month}回)。振込日は事務局からお知らせします。",
                "振込手数料は事務局が負担します。お支払い額から差し引くことはありません。",
                "利用の件数と金額は、登録店ポータルでいつでも確認できます。",
                "振込先口座を変更するときは、事務局へお早めにご連絡ください。",
            ],
            body,
        ),
        Spacer(1, 2 * mm),
        _table(
            [["精算の対象期間"]] + [[p] for p in r.settlement_periods],
            [160 * mm],
            st,
        ),
        # 8. The QR code.
        Paragraph("8. QRコードの管理", st["h1"]),
        _bullets(
            [
                "QRコードはお店ごとに発行した専用のものです。ポスター・チラシ・ステッカーは"
                "登録店ポータルからいつでもダウンロードできます。",
                "汚れ・破損・紛失したとき、または不正に使われた疑いがあるときは、事務局へご連絡"
                "ください。QRコードを再発行すると、以前のQRコードは使えなくなりますので、"
                "新しいポスター・ステッカーに貼り替えてください。",
            ],
            body,
        ),
        # 9. Contact.
        Paragraph("9. お問い合わせ", st["h1"]),
        Paragraph(
            f"{r.campaign_name} コールセンター 電話 {r.callcenter_phone}<br/>"
            f"受付時間 {r.callcenter_hours}",
            strong,
        ),
        Paragraph("実施期間や条件が変更になった場合は、事務局から速やかにお知らせします。", body),
    ]

    def footer(c: canvas.Canvas, doc) -> None:
        if doc.page == 1:
            return
        c.saveState()
        c.setFont(GOTHIC, 8)
        c.setFillColor(colors.HexColor("#555555"))
        c.drawString(20 * mm, 10 * mm, f"{r.campaign_name} 取扱店マニュアル")
        c.drawRightString(A4[0] - 20 * mm, 10 * mm, f"- {doc.page} -")
        c.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{r.campaign_name} 取扱店マニュアル",
        author=f"{r.campaign_name} 事務局",
        pageCompression=1,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
